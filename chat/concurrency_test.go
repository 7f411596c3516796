package chat

import (
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentSendersOneOrder has many members send at once while others
// join and leave. Every member must see one gap-free, strictly increasing
// run of seqs: members present throughout see 1..n; a late joiner's history
// followed by what it got live is 1..n; a leaver sees 1..k. And each
// sender's messages keep the order it sent them in.
func TestConcurrentSendersOneOrder(t *testing.T) {
	const (
		senders = 16
		each    = 40
		joiners = 8
		leavers = 4
		total   = senders * each
	)
	st := newMemStore()
	s := newService(t, st, Config{Burst: total, HistoryLimit: total})

	stayers := map[string]*recorder{}
	for i := 0; i < senders; i++ {
		id := fmt.Sprint("p_s", i)
		stayers[id] = mustJoin(t, s, "room1", id)
	}
	leaving := map[string]*recorder{}
	for i := 0; i < leavers; i++ {
		id := fmt.Sprint("p_l", i)
		leaving[id] = mustJoin(t, s, "room1", id)
	}
	// A busy room next door must not disturb this one.
	mustJoin(t, s, "room2", "p_next")

	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, total*2)
	for i := 0; i < senders; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			for j := 0; j < each; j++ {
				if err := send(s, "room1", fmt.Sprint("p_s", i), fmt.Sprintf("s%d-%d", i, j), ""); err != nil {
					errs <- err
				}
				if j%10 == 0 {
					if err := send(s, "room2", "p_next", "next door", ""); err != nil {
						errs <- err
					}
				}
			}
		}(i)
	}
	var mu sync.Mutex
	late := map[string]*recorder{}
	for i := 0; i < joiners; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			id := fmt.Sprint("p_j", i)
			r := &recorder{}
			if err := s.Join("room1", id, r); err != nil {
				errs <- err
			}
			mu.Lock()
			late[id] = r
			mu.Unlock()
		}(i)
	}
	for id := range leaving {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			<-start
			s.Leave("room1", id)
		}(id)
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent send: %v", err)
	}

	contiguous := func(name string, seqs []int64, wantLen int) {
		t.Helper()
		for i, seq := range seqs {
			if seq != int64(i+1) {
				t.Fatalf("%s: position %d has seq %d (around it: %v)", name, i, seq, seqs[max(0, i-3):min(len(seqs), i+3)])
			}
		}
		if wantLen >= 0 && len(seqs) != wantLen {
			t.Fatalf("%s saw %d messages, want %d", name, len(seqs), wantLen)
		}
	}
	for id, r := range stayers {
		msgs := r.messages(t)
		contiguous(id, seqsOf(msgs), total)
		// Per sender, seqs follow the order of sending.
		next := make([]int, senders)
		for _, m := range msgs {
			var si, sj int
			fmt.Sscanf(m.Text, "s%d-%d", &si, &sj)
			if sj != next[si] {
				t.Fatalf("%s: sender %d's message %d arrived when %d was expected", id, si, sj, next[si])
			}
			next[si]++
		}
	}
	for id, r := range late {
		hs := r.histories(t)
		if len(hs) != 1 {
			t.Fatalf("%s got %d histories", id, len(hs))
		}
		seqs := append(seqsOf(hs[0].Messages), seqsOf(r.messages(t))...)
		contiguous(id+" (history then live)", seqs, total)
	}
	for id, r := range leaving {
		contiguous(id+" (until it left)", seqsOf(r.messages(t)), -1)
	}
	if n := st.count("room1"); n != total {
		t.Fatalf("stored %d, want %d", n, total)
	}
}
