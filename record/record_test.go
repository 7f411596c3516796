package record

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// The media the tests record is real: ffmpeg (libvpx, libopus) encodes a
// test picture and a tone, Pion's payloaders cut them into RTP packets as
// a browser would send them, and ffprobe and ffmpeg judge the files.

func needFFmpeg(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing (make test installs it)", tool)
			}
			t.Skipf("%s is missing (make test installs it)", tool)
		}
	}
}

// encodedMedia is a few seconds of encoded VP8 and Opus, as RTP packets.
type encodedMedia struct {
	video, audio []*rtp.Packet
}

func encode(t testing.TB, seconds int, size, bitrate string) encodedMedia {
	t.Helper()
	dir := t.TempDir()
	ivf, ogg := filepath.Join(dir, "v.ivf"), filepath.Join(dir, "a.ogg")
	run(t, "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size="+size+":rate=30", "-t", strconv.Itoa(seconds),
		"-c:v", "libvpx", "-g", "30", "-b:v", bitrate, "-deadline", "realtime", ivf)
	run(t, "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", strconv.Itoa(seconds),
		"-c:a", "libopus", "-b:a", "32k", "-page_duration", "20000", ogg)

	var m encodedMedia
	vf, err := os.Open(ivf)
	if err != nil {
		t.Fatal(err)
	}
	defer vf.Close()
	vr, _, err := ivfreader.NewWith(vf)
	if err != nil {
		t.Fatal(err)
	}
	vp := rtp.NewPacketizer(1200, 96, 1111, &codecs.VP8Payloader{EnablePictureID: true}, rtp.NewRandomSequencer(), 90000)
	for {
		frame, _, err := vr.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		m.video = append(m.video, vp.Packetize(frame, 3000)...)
	}
	af, err := os.Open(ogg)
	if err != nil {
		t.Fatal(err)
	}
	defer af.Close()
	or, _, err := oggreader.NewWith(af)
	if err != nil {
		t.Fatal(err)
	}
	ap := rtp.NewPacketizer(1200, 111, 2222, &codecs.OpusPayloader{}, rtp.NewRandomSequencer(), 48000)
	for {
		page, _, err := or.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 || string(page[:min(len(page), 8)]) == "OpusTags" {
			continue
		}
		m.audio = append(m.audio, ap.Packetize(page, 960)...)
	}
	if len(m.video) < 30 || len(m.audio) < 50 {
		t.Fatalf("encoded %d video and %d audio packets", len(m.video), len(m.audio))
	}
	return m
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// feed plays the packets into the tracks in their time order, at about
// ten times real time, leaving out the packets skip names.
func feed(m encodedMedia, video, audio *Track, skip func(i int) bool) {
	vi, ai := 0, 0
	vt := func() float64 { return float64(m.video[vi].Timestamp-m.video[0].Timestamp) / 90000 }
	at := func() float64 { return float64(m.audio[ai].Timestamp-m.audio[0].Timestamp) / 48000 }
	for vi < len(m.video) || ai < len(m.audio) {
		if vi < len(m.video) && (ai >= len(m.audio) || vt() <= at()) {
			p := m.video[vi]
			if skip == nil || !skip(vi) {
				video.WriteRTP(p.SequenceNumber, p.Timestamp, p.Marker, p.Payload)
			}
			vi++
			continue
		}
		p := m.audio[ai]
		audio.WriteRTP(p.SequenceNumber, p.Timestamp, p.Marker, p.Payload)
		ai++
		if ai%5 == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

type probe struct {
	Streams []struct {
		CodecName string `json:"codec_name"`
		NbFrames  string `json:"nb_read_frames"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

func ffprobe(t *testing.T, file string) probe {
	t.Helper()
	// stdout only: a file cut short makes ffprobe warn on stderr.
	cmd := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=codec_name,nb_read_frames:format=duration", "-of", "json", file)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", file, err, stderr.String())
	}
	out := string(raw)
	var p probe
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", file, err, out)
	}
	if len(p.Streams) != 1 {
		t.Fatalf("ffprobe %s: %d streams, want 1: %s", file, len(p.Streams), out)
	}
	return p
}

func (p probe) seconds() float64 {
	d, _ := strconv.ParseFloat(p.Format.Duration, 64)
	return d
}

func start(t *testing.T, opts Options) *Recording {
	t.Helper()
	r, err := Start(filepath.Join(t.TempDir(), "recordings", "room1", "rec1"), "rec1", "room1", opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tracks(t *testing.T, r *Recording, keyframes *atomic.Int32) (video, audio *Track) {
	t.Helper()
	video, err := r.AddTrack(TrackInfo{ParticipantID: "p1", Participant: "Ada", Source: "camera", Video: true, ClockRate: 90000,
		RequestKeyframe: func() { keyframes.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	audio, err = r.AddTrack(TrackInfo{ParticipantID: "p1", Participant: "Ada", Source: "microphone", ClockRate: 48000})
	if err != nil {
		t.Fatal(err)
	}
	return video, audio
}

// TestRecordingPlays: three seconds of a camera and a microphone, with a
// few video packets lost on the way, make two files that ffprobe reads as
// VP8 and Opus of the right length and that ffmpeg decodes without an
// error; the loss asked for a keyframe; the manifest lists both.
func TestRecordingPlays(t *testing.T) {
	needFFmpeg(t)
	const seconds = 3
	m := encode(t, seconds, "320x240", "400k")
	r := start(t, Options{})
	var keyframes atomic.Int32
	video, audio := tracks(t, r, &keyframes)
	// Packets lost in the middle of the stream: the frames from there to
	// the next keyframe cannot be decoded and are left out.
	lost := map[int]bool{len(m.video) / 3: true, len(m.video)/3 + 7: true}
	feed(m, video, audio, func(i int) bool { return lost[i] })
	man := r.Stop(nil)

	if man.State != StateDone || len(man.Files) != 2 {
		t.Fatalf("manifest: %+v", man)
	}
	if keyframes.Load() == 0 {
		t.Errorf("the lost packets asked for no keyframe")
	}
	onDisk, err := ReadManifest(r.Dir())
	if err != nil || onDisk.State != StateDone || len(onDisk.Files) != 2 {
		t.Fatalf("manifest on disk: %+v, %v", onDisk, err)
	}
	want := map[string]string{"camera": "vp8", "microphone": "opus"}
	for _, f := range man.Files {
		path := filepath.Join(r.Dir(), f.Name)
		p := ffprobe(t, path)
		if got := p.Streams[0].CodecName; got != want[f.Source] {
			t.Errorf("%s: codec %q, want %q", f.Name, got, want[f.Source])
		}
		if d := p.seconds(); d < seconds*0.9 || d > seconds*1.1 {
			t.Errorf("%s: ffprobe says %.2f s, recorded %d s", f.Name, d, seconds)
		}
		if ms := float64(f.DurationMs) / 1000; ms < seconds*0.9 || ms > seconds*1.1 {
			t.Errorf("%s: the manifest says %.2f s, recorded %d s", f.Name, ms, seconds)
		}
		// At the file's own times, not moved onto a guessed frame rate
		// (where frames a few milliseconds apart would collide).
		if errs := run(t, "ffmpeg", "-v", "error", "-i", path, "-fps_mode", "passthrough", "-enc_time_base", "-1", "-f", "null", "-"); errs != "" {
			t.Errorf("%s: ffmpeg decodes with errors:\n%s", f.Name, errs)
		}
		st, _ := os.Stat(path)
		if f.Bytes != st.Size() {
			t.Errorf("%s: the manifest says %d bytes, the file has %d", f.Name, f.Bytes, st.Size())
		}
		t.Logf("%s: %s, %s s, %s frames, %d bytes, starts at %d ms", f.Name, p.Streams[0].CodecName, p.Format.Duration, p.Streams[0].NbFrames, f.Bytes, f.StartOffsetMs)
	}
}

// TestRecordingLimit: a recording capped at 60 KB stops on its own with
// ErrLimit, its files end near the cap, and they still play.
func TestRecordingLimit(t *testing.T) {
	needFFmpeg(t)
	m := encode(t, 3, "320x240", "400k")
	faults := make(chan error, 4)
	const max = 60 << 10
	r := start(t, Options{MaxBytes: max, OnFault: func(err error) { faults <- err }})
	man := recordUntilFault(t, r, m, faults, ErrLimit)
	var total int64
	for _, f := range man.Files {
		total += f.Bytes
		ffprobe(t, filepath.Join(r.Dir(), f.Name))
	}
	if total < max || total > max+limitSlack {
		t.Errorf("the files hold %d bytes; the limit is %d (and %d more while stopping)", total, max, limitSlack)
	}
	t.Logf("stopped at %d bytes of a %d limit", total, max)
}

// crashEnv names the recording directory of the crash test's child.
const crashEnv = "MEET_RECORD_CRASH_DIR"

// TestMain runs the crash test's child: it records until it is killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnv); dir != "" {
		recordUntilKilled(dir)
		return
	}
	os.Exit(m.Run())
}

// recordUntilKilled records a stream of encodedMedia (read from dir/encodedMedia.json)
// into dir/rec and kills itself, without a word, half way.
func recordUntilKilled(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "encodedMedia.json"))
	if err != nil {
		panic(err)
	}
	var m encodedMedia
	var raw struct{ Video, Audio [][]byte }
	if err := json.Unmarshal(b, &raw); err != nil {
		panic(err)
	}
	for _, v := range raw.Video {
		p := &rtp.Packet{}
		if err := p.Unmarshal(v); err != nil {
			panic(err)
		}
		m.video = append(m.video, p)
	}
	for _, a := range raw.Audio {
		p := &rtp.Packet{}
		if err := p.Unmarshal(a); err != nil {
			panic(err)
		}
		m.audio = append(m.audio, p)
	}
	r, err := Start(filepath.Join(dir, "rec"), "rec", "room1", Options{})
	if err != nil {
		panic(err)
	}
	video, _ := r.AddTrack(TrackInfo{ParticipantID: "p1", Source: "camera", Video: true, ClockRate: 90000})
	audio, _ := r.AddTrack(TrackInfo{ParticipantID: "p1", Source: "microphone", ClockRate: 48000})
	feed(m, video, audio, nil)
	time.Sleep(3 * manifestEvery)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestRecordingKilled: a process killed while it records leaves files
// that ffprobe still reads, with most of their frames, and a manifest that
// MarkInterrupted turns into an interrupted recording.
func TestRecordingKilled(t *testing.T) {
	needFFmpeg(t)
	m := encode(t, 4, "320x240", "400k")
	dir := t.TempDir()
	var raw struct{ Video, Audio [][]byte }
	for _, p := range m.video {
		b, _ := p.Marshal()
		raw.Video = append(raw.Video, b)
	}
	for _, p := range m.audio {
		b, _ := p.Marshal()
		raw.Audio = append(raw.Audio, b)
	}
	b, _ := json.Marshal(raw)
	if err := os.WriteFile(filepath.Join(dir, "encodedMedia.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the child ended with %v, want killed", err)
	}
	man, err := MarkInterrupted(filepath.Join(dir, "rec"))
	if err != nil {
		t.Fatal(err)
	}
	if man.State != StateInterrupted || len(man.Files) != 2 {
		t.Fatalf("manifest after the kill: %+v", man)
	}
	for _, f := range man.Files {
		p := ffprobe(t, filepath.Join(dir, "rec", f.Name))
		frames, _ := strconv.Atoi(p.Streams[0].NbFrames)
		// 4 s: 120 video frames, 200 Opus frames of 20 ms.
		if frames < 60 {
			t.Errorf("%s: ffprobe reads %d frames of the killed recording", f.Name, frames)
		}
		t.Logf("%s after the kill: %s, %d frames, %d bytes", f.Name, p.Streams[0].CodecName, frames, f.Bytes)
	}
}

// TestRecordingDiskFull: a recording whose disk fills up (a 64 KB tmpfs)
// stops on its own with ErrDiskFull, and what it wrote still plays.
func TestRecordingDiskFull(t *testing.T) {
	needFFmpeg(t)
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("a small disk takes root to mount (make test runs as root)")
		}
		t.Skip("a small disk takes root to mount")
	}
	m := encode(t, 3, "320x240", "400k")
	disk := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(disk, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", disk, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatalf("mount a small tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(disk, syscall.MNT_DETACH) })
	faults := make(chan error, 4)
	r, err := Start(filepath.Join(disk, "rec"), "rec", "room1", Options{OnFault: func(err error) { faults <- err }})
	if err != nil {
		t.Fatal(err)
	}
	man := recordUntilFault(t, r, m, faults, ErrDiskFull)
	for _, f := range man.Files {
		p := ffprobe(t, filepath.Join(r.Dir(), f.Name))
		t.Logf("%s on a full disk: %s, %s frames, %d bytes", f.Name, p.Streams[0].CodecName, p.Streams[0].NbFrames, f.Bytes)
	}
}

// recordUntilFault records m into r, which must then stop on its own with
// want (OnFault sends to faults), and returns the final manifest.
func recordUntilFault(t *testing.T, r *Recording, m encodedMedia, faults <-chan error, want error) Manifest {
	t.Helper()
	var keyframes atomic.Int32
	video, audio := tracks(t, r, &keyframes)
	feed(m, video, audio, nil)
	var fault error
	select {
	case fault = <-faults:
	case <-time.After(10 * time.Second):
		t.Fatalf("the recording did not stop on its own (want %v)", want)
	}
	man := r.Stop(fault)
	if !errors.Is(fault, want) || man.Error != want.Error() {
		t.Fatalf("fault %v, manifest error %q: want %v", fault, man.Error, want)
	}
	return man
}
