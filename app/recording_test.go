package app

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"meet/protocol"
	"meet/record"
	"meet/store"
)

type recordingsList struct {
	Recordings []protocol.RecordingInfo `json:"recordings"`
}

func (sc *sfuClient) recordingMessages() []protocol.Recording {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return append([]protocol.Recording(nil), sc.recordings...)
}

func (sc *sfuClient) lastError() protocol.Error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if len(sc.errors) == 0 {
		return protocol.Error{}
	}
	return sc.errors[len(sc.errors)-1]
}

// TestRecordingLifecycle drives a recording through the API: a host starts
// it over HTTP, the mesh room moves to the SFU and everyone is told; the
// microphone published there is written to a file; a second start, a
// plain participant's start and stop and bad requests are refused; the
// owner stops it on the socket and the room returns to mesh; the owner
// lists it, downloads its file whole and by range, and deletes it, which
// nobody else may do.
func TestRecordingLifecycle(t *testing.T) {
	dir := t.TempDir()
	a := newTestAppWith(t, Config{MeshMax: 3, BackToMeshDelay: 300 * time.Millisecond, SFUGrace: time.Second, RecordingsDir: dir})
	owner := a.newUser()
	room := owner.createRoom("lesson")
	alice := newSFUClient(t, owner, room.ID)
	guest := a.newUser()
	bob := newSFUClient(t, guest, room.ID)
	if alice.lastMode().Mode != protocol.ModeMesh {
		t.Fatal("a room of two is not mesh")
	}

	// Refusals first: they change nothing.
	var apiErr errorBody
	if code := guest.do("POST", "/api/rooms/"+room.ID+"/recording", `{"action":"start"}`, &apiErr); code != http.StatusForbidden {
		t.Fatalf("a plain participant's start: %d %+v", code, apiErr)
	}
	bob.write(protocol.Record{Type: protocol.TypeRecord, Action: protocol.RecordStart})
	waitFor(t, func() bool { return bob.lastError().Ref == protocol.TypeRecord })
	if e := bob.lastError(); e.Code != protocol.CodeForbidden {
		t.Fatalf("a plain participant's start on the socket: %+v", e)
	}
	if code := owner.do("POST", "/api/rooms/"+room.ID+"/recording", `{"action":"pause"}`, &apiErr); code != http.StatusBadRequest {
		t.Fatalf("an unknown action: %d", code)
	}
	if code := owner.do("POST", "/api/rooms/"+room.ID+"/recording", `{"action":"stop"}`, &apiErr); code != http.StatusConflict || apiErr.Error.Code != protocol.CodeNotRecording {
		t.Fatalf("stopping what does not record: %d %+v", code, apiErr)
	}
	if got := alice.lastMode().Mode; got != protocol.ModeMesh {
		t.Fatalf("refusals moved the room to %s", got)
	}

	var started struct {
		Recording bool   `json:"recording"`
		ID        string `json:"id"`
	}
	if code := owner.do("POST", "/api/rooms/"+room.ID+"/recording", `{"action":"start"}`, &started); code != http.StatusCreated || started.ID == "" {
		t.Fatalf("start: %d %+v", code, started)
	}
	for _, c := range []*sfuClient{alice, bob} {
		waitFor(t, func() bool { return c.lastMode().Mode == protocol.ModeSFU })
		waitFor(t, func() bool {
			m := c.recordingMessages()
			return len(m) > 0 && m[len(m)-1].Active && m[len(m)-1].ID == started.ID
		})
	}
	var view protocol.Room
	guest.do("GET", "/api/rooms/"+room.ID, "", &view)
	if !view.Recording {
		t.Fatal("the room does not say it records to a joiner")
	}
	if code := owner.do("POST", "/api/rooms/"+room.ID+"/recording", `{"action":"start"}`, &apiErr); code != http.StatusConflict || apiErr.Error.Code != protocol.CodeRecording {
		t.Fatalf("a second start: %d %+v", code, apiErr)
	}

	track := alice.publishAudio()
	key := alice.c.wel.Self.ID + "|" + protocol.SourceMicrophone
	deadline := time.Now().Add(10 * time.Second)
	for bob.count(key) < 50 && time.Now().Before(deadline) {
		sendAudio(track, 50)
	}
	sendAudio(track, 100)
	// The room stays on the SFU while it records, though it is small.
	time.Sleep(500 * time.Millisecond)
	if got := alice.lastMode().Mode; got != protocol.ModeSFU {
		t.Fatalf("a recording room went back to %s", got)
	}

	alice.write(protocol.Record{Type: protocol.TypeRecord, Action: protocol.RecordStop})
	waitFor(t, func() bool {
		m := bob.recordingMessages()
		return !m[len(m)-1].Active
	})
	waitFor(t, func() bool { return alice.lastMode().Mode == protocol.ModeMesh })

	var list recordingsList
	if code := owner.do("GET", "/api/rooms/"+room.ID+"/recordings", "", &list); code != http.StatusOK || len(list.Recordings) != 1 {
		t.Fatalf("list: %d %+v", code, list)
	}
	rec := list.Recordings[0]
	if rec.ID != started.ID || rec.State != store.RecordingDone || rec.StoppedAt == "" || len(rec.Files) != 1 {
		t.Fatalf("the recording listed: %+v", rec)
	}
	file := rec.Files[0]
	if file.Source != protocol.SourceMicrophone || file.Codec != "Opus" || file.ParticipantID != alice.c.wel.Self.ID || file.DurationMs <= 0 || file.Bytes <= 0 {
		t.Fatalf("the file listed: %+v", file)
	}
	code, body := owner.raw("GET", file.URL, "", nil)
	if code != http.StatusOK || int64(len(body)) != file.Bytes || !bytes.HasPrefix(body, []byte{0x1a, 0x45, 0xdf, 0xa3}) {
		t.Fatalf("download: %d, %d bytes of %d", code, len(body), file.Bytes)
	}
	req, _ := http.NewRequest("GET", a.http.URL+file.URL, nil)
	req.Header.Set("Authorization", "Bearer "+owner.token)
	req.Header.Set("Range", "bytes=4-11")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, body[4:12]) {
		t.Fatalf("range: %d %x", resp.StatusCode, part)
	}

	for _, c := range []struct{ method, path string }{
		{"GET", "/api/rooms/" + room.ID + "/recordings"},
		{"GET", file.URL},
		{"DELETE", "/api/recordings/" + rec.ID},
	} {
		if code, _ := guest.raw(c.method, c.path, "", nil); code != http.StatusForbidden {
			t.Errorf("a participant's %s %s: %d, want 403", c.method, c.path, code)
		}
	}
	if code, _ := owner.raw("GET", "/api/recordings/"+rec.ID+"/files/..%2Fmanifest.json", "", nil); code != http.StatusNotFound {
		t.Errorf("a file not in the manifest: %d", code)
	}
	if code, _ := owner.raw("DELETE", "/api/recordings/rec_nosuch", "", nil); code != http.StatusNotFound {
		t.Errorf("an unknown recording: %d", code)
	}
	if code, _ := owner.raw("DELETE", "/api/recordings/"+rec.ID, "", nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	owner.do("GET", "/api/rooms/"+room.ID+"/recordings", "", &list)
	if len(list.Recordings) != 0 {
		t.Fatalf("listed after delete: %+v", list)
	}
	if _, err := os.Stat(filepath.Join(dir, room.ID, rec.ID)); !os.IsNotExist(err) {
		t.Fatalf("the files stayed after delete: %v", err)
	}
}

// TestRecordingInterruptedByRestart: a recording the server was writing
// when it stopped is marked interrupted, in the list and in its manifest,
// when the server starts again on the same database.
func TestRecordingInterruptedByRestart(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(t.TempDir(), "meet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recDir := filepath.Join(dir, "room1", "rec_cut")
	rec, err := record.Start(recDir, "rec_cut", "room1", record.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Left running, as a killed server leaves it; stopped when the test
	// is over, before its directory goes.
	t.Cleanup(func() { rec.Stop(nil) })
	if err := db.CreateRecording(store.Recording{ID: "rec_cut", RoomID: "room1", State: store.RecordingActive, StartedBy: "u", Dir: recDir, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Store: db, Secret: []byte("0123456789abcdef0123456789abcdef"), RecordingsDir: dir,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.ws.Close(); _ = srv.sfu.Close(); srv.turn.close() }()
	got, err := db.Recording("rec_cut")
	if err != nil || got.State != store.RecordingInterrupted || got.StoppedAt == nil || got.Error == "" {
		t.Fatalf("stored after the restart: %+v, %v", got, err)
	}
	man, err := record.ReadManifest(recDir)
	if err != nil || man.State != record.StateInterrupted {
		t.Fatalf("manifest after the restart: %+v, %v", man, err)
	}
}

// TestRecordingStopsAtItsLimit: a recording that reaches -max-recording-mb
// stops on its own; everyone is told, with the reason, the room goes back
// to mesh, and the recording is listed as done with that reason and files
// that end near the limit.
func TestRecordingStopsAtItsLimit(t *testing.T) {
	dir := t.TempDir()
	const limit = 64 << 10
	a := newTestAppWith(t, Config{MeshMax: 3, BackToMeshDelay: 300 * time.Millisecond, SFUGrace: time.Second,
		RecordingsDir: dir, MaxRecordingBytes: limit})
	owner := a.newUser()
	room := owner.createRoom("capped")
	alice := newSFUClient(t, owner, room.ID)
	bob := newSFUClient(t, a.newUser(), room.ID)
	alice.write(protocol.Record{Type: protocol.TypeRecord, Action: protocol.RecordStart})
	waitFor(t, func() bool { return alice.lastMode().Mode == protocol.ModeSFU })
	track := alice.publishAudio()
	stopped := func() (protocol.Recording, bool) {
		m := bob.recordingMessages()
		if len(m) == 0 || m[len(m)-1].Active {
			return protocol.Recording{}, false
		}
		return m[len(m)-1], true
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok := stopped(); ok {
			break
		}
		sendAudio(track, 50)
	}
	msg, ok := stopped()
	if !ok || msg.Error == "" {
		t.Fatalf("the recording did not stop at its limit: %+v", bob.recordingMessages())
	}
	waitFor(t, func() bool { return alice.lastMode().Mode == protocol.ModeMesh })
	var list recordingsList
	waitFor(t, func() bool {
		owner.do("GET", "/api/rooms/"+room.ID+"/recordings", "", &list)
		return len(list.Recordings) == 1 && list.Recordings[0].State == store.RecordingDone
	})
	rec := list.Recordings[0]
	if rec.Error != msg.Error || len(rec.Files) != 1 {
		t.Fatalf("the recording listed: %+v (told %q)", rec, msg.Error)
	}
	if b := rec.Files[0].Bytes; b < limit || b > limit+64<<10 {
		t.Fatalf("the file holds %d bytes; the limit is %d", b, limit)
	}
	t.Logf("stopped with %q at %d bytes", msg.Error, rec.Files[0].Bytes)
}
