# `sem-version LANGUAGE VERSION`, sourced into the job's shell: a switch of version must
# change that shell's PATH, which no program it starts can do. The program
# (bin/sem-version) writes the exports to a file this function then sources.
sem-version() {
  local env_file status
  env_file=$(mktemp "${TMPDIR:-/tmp}/sem-version.XXXXXX") || return 1
  SEM_VERSION_ENV_FILE="$env_file" command sem-version "$@"
  status=$?
  if [ "$status" -eq 0 ] && [ -s "$env_file" ]; then
    # shellcheck disable=SC1090
    source "$env_file"
  fi
  rm -f "$env_file"
  return "$status"
}
# Scripts the job runs with bash see it too, as in Semaphore's jobs.
export -f sem-version
