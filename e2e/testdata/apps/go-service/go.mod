module example.com/go-service

go 1.26

toolchain go1.26.11

require github.com/google/uuid v1.6.0
