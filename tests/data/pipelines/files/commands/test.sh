make deps
make test
