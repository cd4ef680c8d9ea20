# The two commands: `make run` and `make test`. Everything else is a step they use.
.PHONY: run test setup build up down status unit integration clean

SWIFT_BUILD_FLAGS ?=

run: setup build
	scripts/stack.sh run

test: setup build
	scripts/test.sh

setup:
	scripts/setup.sh

build:
	swift build $(SWIFT_BUILD_FLAGS)

up: setup build
	scripts/stack.sh up

down:
	scripts/stack.sh down

status:
	scripts/stack.sh status

clean: down
	rm -rf .run .build
