package person

//go:generate go run ./internal/lifecycledoc -o ../../docs/LIFECYCLE.md
