package grant_test

import (
	"os"
	"strings"
	"testing"
)

// docs/PROTOCOL.md shows joinToken as the way to sign a join token; the
// copy there must be the one Example_joinToken compiles and runs.
func TestProtocolDocShowsTheExample(t *testing.T) {
	extract := func(path, end string) string {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		start := strings.Index(text, "func joinToken(")
		if start < 0 {
			t.Fatalf("%s has no func joinToken", path)
		}
		stop := strings.Index(text[start:], end)
		if stop < 0 {
			t.Fatalf("%s: func joinToken does not end", path)
		}
		return text[start : start+stop]
	}
	doc := extract("../docs/PROTOCOL.md", "\n}\n```")
	code := extract("example_test.go", "\n}\n")
	if doc != code {
		t.Errorf("the joinToken of docs/PROTOCOL.md differs from grant/example_test.go's:\n%s\n---\n%s", doc, code)
	}
}
