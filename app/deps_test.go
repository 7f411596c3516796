package app

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeavesImportNoApp checks the dependency rule of docs/ARCHITECTURE.md
// with the go tool itself: the leaves (mesh, sfu, chat, store, protocol and
// frontend) never import app nor each other; each may import protocol,
// which imports no package of the project.
func TestLeavesImportNoApp(t *testing.T) {
	leaves := []string{"mesh", "sfu", "chat", "store", "protocol", "frontend"}
	for _, leaf := range leaves {
		out, err := exec.Command("go", "list", "-deps", "meet/"+leaf+"/...").CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps meet/%s/...: %v\n%s", leaf, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if !strings.HasPrefix(dep, "meet/") {
				continue
			}
			top := strings.SplitN(strings.TrimPrefix(dep, "meet/"), "/", 2)[0]
			switch {
			case top == leaf:
			case top == "protocol" && leaf != "protocol":
			default:
				t.Errorf("meet/%s imports %s: a leaf imports protocol at most", leaf, dep)
			}
		}
	}
}
