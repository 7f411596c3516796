package app

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeavesImportNoApp checks the dependency rule of docs/ARCHITECTURE.md
// with the go tool itself: the leaves (mesh, sfu, chat, store, protocol, turn, tlsconf, grant, record and
// frontend) never import app, app/room included, nor each other; each may
// import protocol, which imports no package of the project.
func TestLeavesImportNoApp(t *testing.T) {
	leaves := []string{"mesh", "sfu", "chat", "store", "protocol", "frontend", "turn", "tlsconf", "grant", "record"}
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

// TestRoomImportsNoAdapter checks the other rule of the Packages section:
// the room domain (meet/app/room) sits between app and the leaves. It may
// import the leaves, never app, and no socket or HTTP library either,
// since it never touches a socket.
func TestRoomImportsNoAdapter(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "meet/app/room").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps meet/app/room: %v\n%s", err, out)
	}
	allowed := map[string]bool{"protocol": true, "mesh": true, "sfu": true, "chat": true, "store": true, "record": true}
	adapters := []string{"github.com/olahol/melody", "github.com/gorilla/websocket", "github.com/gin-gonic/gin"}
	for _, dep := range strings.Fields(string(out)) {
		for _, adapter := range adapters {
			if dep == adapter || strings.HasPrefix(dep, adapter+"/") {
				t.Errorf("meet/app/room imports %s: the room never touches a socket or a request", dep)
			}
		}
		if dep == "meet/app/room" || !strings.HasPrefix(dep, "meet/") {
			continue
		}
		top := strings.SplitN(strings.TrimPrefix(dep, "meet/"), "/", 2)[0]
		if !allowed[top] {
			t.Errorf("meet/app/room imports %s: it may import protocol, mesh, sfu, chat, record and store only", dep)
		}
	}
}
