package chat

import (
	"fmt"
	"sync/atomic"
	"testing"

	"meet/protocol"
)

// counter is a Member that only counts, so the benchmark measures the
// service's own fan-out: stamping, storing (in memory), encoding once and
// queueing to every member.
type counter struct {
	frames atomic.Int64
	bytes  atomic.Int64
}

func (c *counter) Send(frame []byte) {
	c.frames.Add(1)
	c.bytes.Add(int64(len(frame)))
}

// discardStore numbers messages and keeps none, so a long benchmark does not
// measure a growing slice. History reads are not on the fan-out path.
type discardStore struct{ seq atomic.Int64 }

func (d *discardStore) Append(m Message) (Message, bool, error) {
	m.Seq = d.seq.Add(1)
	return m, true, nil
}
func (d *discardStore) After(string, int64, int) ([]Message, error) { return nil, nil }
func (d *discardStore) Recent(string, int) ([]Message, error)       { return nil, nil }

// BenchmarkFanout: one room of 500 members, one message at a time. Run with
// -benchmem; deliveries/s is frames handed to members per second of wall
// time, allocs/op is per message (not per delivery: the frame is shared).
func BenchmarkFanout(b *testing.B) {
	benchFanout(b, 500, false)
}

// BenchmarkFanoutParallel has every core send into the same room at once,
// which measures the cost of the room lock that keeps the order.
func BenchmarkFanoutParallel(b *testing.B) {
	benchFanout(b, 500, true)
}

func benchFanout(b *testing.B, members int, parallel bool) {
	s := newService(b, &discardStore{}, Config{Burst: 1 << 40, Rate: 1 << 20})
	counters := make([]*counter, members)
	for i := range counters {
		counters[i] = &counter{}
		if err := s.Join("room1", fmt.Sprint("p_", i), counters[i]); err != nil {
			b.Fatal(err)
		}
	}
	// The join's history frames are not deliveries of messages.
	for _, c := range counters {
		c.frames.Store(0)
		c.bytes.Store(0)
	}
	const text = "A question about the second slide: why does the curve bend there?"
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			i := next.Add(1) % int64(members)
			from := Sender{ID: fmt.Sprint("p_", i), UserID: fmt.Sprint("u_", i), Name: "Someone"}
			for pb.Next() {
				if err := s.Send("room1", from, &protocol.ChatSend{Type: protocol.TypeChatSend, Text: text}); err != nil {
					b.Error(err) // Fatal may only be called from the benchmark's goroutine
					return
				}
			}
		})
	} else {
		from := Sender{ID: "p_0", UserID: "u_0", Name: "Ana"}
		for b.Loop() {
			if err := s.Send("room1", from, &protocol.ChatSend{Type: protocol.TypeChatSend, Text: text}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	var delivered, bytes int64
	for _, c := range counters {
		delivered += c.frames.Load()
		bytes += c.bytes.Load()
	}
	if want := int64(b.N) * int64(members); delivered != want {
		b.Fatalf("delivered %d frames, want %d", delivered, want)
	}
	b.ReportMetric(float64(delivered)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(bytes)/float64(delivered), "B/delivery")
}
