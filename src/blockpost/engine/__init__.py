"""The engine: drives workflows, pipelines, blocks and jobs to their final states."""
