// Package record writes a room's media to disk: one WebM file per
// publisher and source (VP8 or Opus), rebuilt from the RTP packets the SFU
// forwards, and a manifest.json that says whose each file is, when it
// starts in the recording and how long it lasts.
//
// It is a leaf: the SFU hands it packets through an interface of its own
// (sfu.Tap), and app/room decides when a room records. Nothing here blocks
// the forwarding path: each track has a queue, read by its own goroutine,
// and a packet that finds the queue full is dropped (the writer then waits
// for the next keyframe, and asks for one).
//
// Files are written as they go: the segment and its clusters have an
// unknown size until the end, so a file cut short by a crash plays up to
// its last whole cluster. At a clean stop the writer goes back and fills
// in the duration and the cues, so players can seek.
package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// The states of a recording, as the API shows them.
const (
	StateRecording   = "recording"
	StateDone        = "done"
	StateInterrupted = "interrupted"
)

// ManifestName is the manifest's file name in a recording's directory.
const ManifestName = "manifest.json"

// ErrLimit stops a recording that reached its size limit; ErrDiskFull one
// whose disk is full.
var (
	ErrLimit    = errors.New("the recording reached its size limit")
	ErrDiskFull = errors.New("the disk is full")
)

// Manifest describes a recording: it is written when the recording
// starts, again every few seconds while it runs, and at its end.
type Manifest struct {
	ID        string     `json:"id"`
	Room      string     `json:"room"`
	StartedAt time.Time  `json:"startedAt"`
	StoppedAt *time.Time `json:"stoppedAt,omitempty"`
	State     string     `json:"state"`
	// Error says why it stopped, when it was not asked to.
	Error string `json:"error,omitempty"`
	Files []File `json:"files"`
}

// File is one WebM file of a recording.
type File struct {
	Name          string `json:"name"`
	ParticipantID string `json:"participantId"`
	Participant   string `json:"participant"` // the name shown in the room
	Source        string `json:"source"`      // camera, microphone, screen
	Codec         string `json:"codec"`       // VP8 or Opus
	StartOffsetMs int64  `json:"startOffsetMs"`
	DurationMs    int64  `json:"durationMs"`
	Bytes         int64  `json:"bytes"`
}

// Options are a recording's limits and the callback for its end.
type Options struct {
	// MaxBytes caps the recording's files together; 0 means no cap.
	MaxBytes int64
	// OnFault is called once, from another goroutine, when the recording
	// must stop on its own (ErrLimit, ErrDiskFull or another write error).
	// The caller then calls Stop.
	OnFault func(error)
	Logger  *slog.Logger
}

// Recording is one recording in progress.
type Recording struct {
	dir  string
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	manifest Manifest
	tracks   []*Track
	names    map[string]int // file names given, to number repeats
	stopped  bool

	written atomic.Int64 // bytes in all files
	faulted atomic.Bool
	wg      sync.WaitGroup
	done    chan struct{} // closed by Stop: ends the manifest ticker
}

// manifestEvery is how often a running recording's manifest is brought up
// to date: what a crash can lose of the durations.
const manifestEvery = 2 * time.Second

// Start begins a recording in dir (created; it must not exist yet).
func Start(dir, id, room string, opts Options) (*Recording, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	r := &Recording{
		dir:  dir,
		opts: opts,
		log:  log.With("recording", id, "room", room),
		manifest: Manifest{
			ID: id, Room: room, StartedAt: time.Now().UTC(), State: StateRecording, Files: []File{},
		},
		names: map[string]int{},
		done:  make(chan struct{}),
	}
	if err := r.writeManifest(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	go r.keepManifest()
	return r, nil
}

// Dir is the recording's directory.
func (r *Recording) Dir() string { return r.dir }

// StartedAt is when the recording began.
func (r *Recording) StartedAt() time.Time { return r.manifest.StartedAt }

// Written is the size of its files so far.
func (r *Recording) Written() int64 { return r.written.Load() }

// Stop ends every track, waits for their files to be closed and writes
// the final manifest, with cause as its error when not nil. It returns
// that manifest. Calling it again returns the same.
func (r *Recording) Stop(cause error) Manifest {
	r.mu.Lock()
	if r.stopped {
		m := r.snapshotLocked()
		r.mu.Unlock()
		return m
	}
	r.stopped = true
	tracks := r.tracks
	r.mu.Unlock()
	close(r.done)
	for _, t := range tracks {
		t.Close()
	}
	r.wg.Wait()
	r.mu.Lock()
	now := time.Now().UTC()
	r.manifest.StoppedAt = &now
	r.manifest.State = StateDone
	if cause != nil {
		r.manifest.Error = cause.Error()
	}
	m := r.snapshotLocked()
	r.mu.Unlock()
	if err := r.writeManifest(); err != nil {
		r.log.Warn("recording: final manifest", "err", err)
	}
	return m
}

// fault stops the recording from inside: the owner is told through
// OnFault, which calls Stop.
func (r *Recording) fault(err error) {
	if !r.faulted.CompareAndSwap(false, true) {
		return
	}
	r.log.Warn("recording stops on its own", "err", err)
	if r.opts.OnFault != nil {
		go r.opts.OnFault(err)
	}
}

// fileName gives a track its file's name: participant-source.webm, and a
// number after the source when the same pair records again (a camera
// turned off and on).
func (r *Recording) fileNameLocked(participant, source string) string {
	key := participant + "-" + source
	r.names[key]++
	if n := r.names[key]; n > 1 {
		return fmt.Sprintf("%s-%d.webm", key, n)
	}
	return key + ".webm"
}

// snapshotLocked copies the manifest with each file's figures as they are.
func (r *Recording) snapshotLocked() Manifest {
	m := r.manifest
	m.Files = make([]File, 0, len(r.tracks))
	for _, t := range r.tracks {
		if f, ok := t.file(); ok {
			m.Files = append(m.Files, f)
		}
	}
	return m
}

// Snapshot is the manifest as it stands.
func (r *Recording) Snapshot() Manifest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshotLocked()
}

// keepManifest rewrites the manifest while the recording runs, so that a
// crash leaves the files listed with their durations nearly whole.
func (r *Recording) keepManifest() {
	tick := time.NewTicker(manifestEvery)
	defer tick.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-tick.C:
			if err := r.writeManifest(); err != nil {
				r.log.Warn("recording: manifest", "err", err)
			}
		}
	}
}

// writeManifest replaces the manifest file whole (a new file renamed over
// the old), so a reader never sees half of one.
func (r *Recording) writeManifest() error {
	r.mu.Lock()
	m := r.snapshotLocked()
	r.mu.Unlock()
	return WriteManifest(r.dir, m)
}

// WriteManifest writes m into dir as its manifest, whole or not at all.
func WriteManifest(dir string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ManifestName+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, ManifestName))
}

// ReadManifest reads the manifest of the recording in dir.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return m, err
	}
	err = json.Unmarshal(b, &m)
	return m, err
}

// MarkInterrupted turns the manifest in dir of a recording that was
// running when the server stopped into an interrupted one. Its files stay
// as they are: each plays up to its last whole cluster.
func MarkInterrupted(dir string) (Manifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return m, err
	}
	if m.State != StateRecording {
		return m, nil
	}
	m.State = StateInterrupted
	if m.Error == "" {
		m.Error = "the server stopped during the recording"
	}
	for i, f := range m.Files {
		if st, err := os.Stat(filepath.Join(dir, f.Name)); err == nil {
			m.Files[i].Bytes = st.Size()
		}
	}
	return m, WriteManifest(dir, m)
}
