package messages

// Regenerating needs protoc (3.21+, e.g. Debian's protobuf-compiler); the Go
// plugin is pinned by the tool directive in go.mod, so no global install.
//go:generate sh -c "protoc -I proto --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --go_out=. --go_opt=module=github.com/cim/personrt/messages proto/person/v1/*.proto proto/runtime/v1/*.proto"
