package record

import (
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRecordCamera measures what recording a camera costs: the
// packets of 10 s of a 640x480 VP8 camera at 30 frames/s and about
// 1 Mbit/s go through a track's queue, sample builder and muxer into a
// file. It reports the CPU time (user and system, every goroutine) per
// second of video recorded, and per packet; a recording of N cameras at
// this rate takes N times that share of a core.
func BenchmarkRecordCamera(b *testing.B) {
	benchmarkRecord(b, true)
}

// BenchmarkRecordMicrophone is the same for 10 s of Opus at 20 ms a packet.
func BenchmarkRecordMicrophone(b *testing.B) {
	benchmarkRecord(b, false)
}

func benchmarkRecord(b *testing.B, video bool) {
	needFFmpeg(b)
	const seconds = 10
	m := encode(b, seconds, "640x480", "1000k")
	packets := m.audio
	info := TrackInfo{ParticipantID: "p1", Source: "microphone", ClockRate: 48000}
	if video {
		packets = m.video
		info = TrackInfo{ParticipantID: "p1", Source: "camera", Video: true, ClockRate: 90000}
	}
	dir := b.TempDir()
	b.ResetTimer()
	before := cpuTime()
	for i := 0; i < b.N; i++ {
		r, err := Start(filepath.Join(dir, strconv.Itoa(i)), "rec", "room", Options{})
		if err != nil {
			b.Fatal(err)
		}
		track, _ := r.AddTrack(info)
		for _, p := range packets {
			// The queue drops what it cannot hold; here every packet must
			// be counted, so wait for room as a real-time stream would.
			for len(track.queue) > queueLength-8 {
				runtime.Gosched()
			}
			track.WriteRTP(p.SequenceNumber, p.Timestamp, p.Marker, p.Payload)
		}
		r.Stop(nil)
	}
	cpu := cpuTime() - before
	b.StopTimer()
	perSecond := cpu / time.Duration(b.N*seconds)
	b.ReportMetric(float64(perSecond.Microseconds()), "cpu-µs/media-s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*len(packets)), "cpu-ns/packet")
	b.ReportMetric(float64(len(packets))/seconds, "packets/media-s")
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
