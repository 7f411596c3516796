package store

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"meet/store/storetest"
)

func appendText(t *testing.T, s *Store, roomID, userID, clientID, text string) (ChatMessage, bool) {
	t.Helper()
	msg := ChatMessage{RoomID: roomID, SenderID: "p_" + userID, UserID: userID, SenderName: "N " + userID, Text: text, ClientID: clientID}
	created, err := s.AppendMessage(&msg)
	if err != nil {
		t.Fatalf("AppendMessage(%q): %v", text, err)
	}
	return msg, created
}

func TestAppendMessageNumbersPerRoom(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		for i := 1; i <= 3; i++ {
			m, created := appendText(t, s, "roomaaaaaa", "u1", "", fmt.Sprint("a", i))
			if !created || m.Seq != int64(i) || m.ID == 0 || m.CreatedAt.IsZero() {
				t.Fatalf("message %d = %+v, created %v", i, m, created)
			}
		}
		// Another room counts from 1 on its own.
		if m, _ := appendText(t, s, "roombbbbbb", "u1", "", "b1"); m.Seq != 1 {
			t.Fatalf("first message of a second room has seq %d", m.Seq)
		}
	})
}

func TestAppendMessageKeepsTextVerbatim(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		texts := []string{`<img src=x onerror=alert(1)>`, "👩‍👩‍👧 olá 数学 \u202e", "line 1\nline 2\t'; DROP TABLE chat_messages; --"}
		for _, text := range texts {
			appendText(t, s, "roomaaaaaa", "u1", "", text)
		}
		rows, err := s.MessagesAfter("roomaaaaaa", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		for i, text := range texts {
			if rows[i].Text != text {
				t.Fatalf("stored %q, got back %q", text, rows[i].Text)
			}
		}
	})
}

func TestAppendMessageClientIDIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		first, created := appendText(t, s, "roomaaaaaa", "u1", "c-1", "hello")
		if !created {
			t.Fatal("first send not created")
		}
		appendText(t, s, "roomaaaaaa", "u2", "", "in between")

		// The resend after a reconnect comes from a new participant id with the
		// same identity: it gets the stored message back, not a new one.
		again := ChatMessage{RoomID: "roomaaaaaa", SenderID: "p_new", UserID: "u1", SenderName: "N u1", Text: "hello", ClientID: "c-1"}
		created, err := s.AppendMessage(&again)
		if err != nil || created {
			t.Fatalf("resend: created %v, err %v", created, err)
		}
		if again.Seq != first.Seq || again.ID != first.ID || again.SenderID != first.SenderID {
			t.Fatalf("resend returned %+v, want %+v", again, first)
		}

		// The same client id from another identity, or in another room, is a
		// different message; messages without a client id never collide.
		for _, tt := range []struct{ room, user, client string }{
			{"roomaaaaaa", "u2", "c-1"},
			{"roombbbbbb", "u1", "c-1"},
			{"roomaaaaaa", "u1", ""},
			{"roomaaaaaa", "u1", ""},
		} {
			if _, created := appendText(t, s, tt.room, tt.user, tt.client, "x"); !created {
				t.Fatalf("%+v was taken for a resend", tt)
			}
		}
		rows, _ := s.MessagesAfter("roomaaaaaa", 0, 100)
		if len(rows) != 5 {
			t.Fatalf("room has %d messages, want 5", len(rows))
		}
	})
}

func TestMessagesAfterAndRecent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		for i := 1; i <= 10; i++ {
			appendText(t, s, "roomaaaaaa", "u1", "", fmt.Sprint(i))
		}
		appendText(t, s, "roombbbbbb", "u1", "", "other room")

		seqs := func(rows []ChatMessage) []int64 {
			out := make([]int64, len(rows))
			for i, r := range rows {
				out[i] = r.Seq
			}
			return out
		}
		for _, tt := range []struct {
			name  string
			after int64
			limit int
			want  string
		}{
			{"from the start", 0, 3, "[1 2 3]"},
			{"middle", 4, 3, "[5 6 7]"},
			{"tail shorter than limit", 8, 5, "[9 10]"},
			{"nothing newer", 10, 5, "[]"},
			{"beyond the end", 99, 5, "[]"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				rows, err := s.MessagesAfter("roomaaaaaa", tt.after, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				if got := fmt.Sprint(seqs(rows)); got != tt.want {
					t.Fatalf("after %d limit %d = %s, want %s", tt.after, tt.limit, got, tt.want)
				}
			})
		}

		recent, err := s.RecentMessages("roomaaaaaa", 4)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(seqs(recent)); got != "[7 8 9 10]" {
			t.Fatalf("recent 4 = %s, want ascending [7 8 9 10]", got)
		}
		if all, _ := s.RecentMessages("roomaaaaaa", 100); len(all) != 10 || all[0].Seq != 1 {
			t.Fatalf("recent 100 = %v", seqs(all))
		}
		if none, _ := s.RecentMessages("roomcccccc", 10); len(none) != 0 {
			t.Fatalf("empty room has %d messages", len(none))
		}
	})
}

// TestAppendMessageConcurrent sends from many goroutines into a few rooms at
// once: every append must succeed (writers queue, none fails with "database
// is locked"), and each room's seqs must be exactly 1..n.
func TestAppendMessageConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		rooms := []string{"roomaaaaaa", "roombbbbbb", "roomcccccc"}
		const senders, each = 12, 15
		var wg sync.WaitGroup
		errs := make(chan error, senders*each)
		for i := 0; i < senders; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				for j := 0; j < each; j++ {
					msg := ChatMessage{RoomID: rooms[(i+j)%len(rooms)], SenderID: "p", UserID: fmt.Sprint("u", i),
						SenderName: "n", Text: "t", ClientID: fmt.Sprintf("c-%d-%d", i, j)}
					if _, err := s.AppendMessage(&msg); err != nil {
						errs <- err
					}
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent append: %v", err)
		}
		total := 0
		for _, room := range rooms {
			rows, err := s.MessagesAfter(room, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range rows {
				if r.Seq != int64(i+1) {
					t.Fatalf("room %s: message %d has seq %d", room, i, r.Seq)
				}
			}
			total += len(rows)
		}
		if total != senders*each {
			t.Fatalf("stored %d messages, want %d", total, senders*each)
		}
	})
}

func TestDuplicateSeqIsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		appendText(t, s, "roomaaaaaa", "u1", "", "one")
		dup := ChatMessage{RoomID: "roomaaaaaa", Seq: 1, SenderID: "p", UserID: "u2", SenderName: "n", Text: "sneaky", CreatedAt: time.Now()}
		if err := s.db.Create(&dup).Error; err == nil {
			t.Fatal("a second message with seq 1 was stored: the (room_id, seq) index is missing")
		}
	})
}

func TestMessagesSurviveReopen(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		path := d.NewDSN(t)
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		appendText(t, s, "roomaaaaaa", "u1", "c-1", "before")
		appendText(t, s, "roomaaaaaa", "u1", "c-2", "before 2")
		s.Close()

		s2, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		if m, created := appendText(t, s2, "roomaaaaaa", "u1", "c-3", "after"); !created || m.Seq != 3 {
			t.Fatalf("after reopen: seq %d created %v, want 3 true", m.Seq, created)
		}
		// A resend that straddles the restart is still recognised.
		if m, created := appendText(t, s2, "roomaaaaaa", "u1", "c-2", "before 2"); created || m.Seq != 2 {
			t.Fatalf("resend after reopen: seq %d created %v", m.Seq, created)
		}
	})
}

// BenchmarkAppendMessage is the database's share of sending one chat
// message; the chat service holds a room's lock across it, so it bounds the
// messages per second of one room.
func BenchmarkAppendMessage(b *testing.B) {
	for _, d := range storetest.Dialects() {
		b.Run(d.Name, func(b *testing.B) {
			s, _ := mustOpen(b, d)
			for b.Loop() {
				msg := ChatMessage{RoomID: "roomaaaaaa", SenderID: "p_1", UserID: "u_1", SenderName: "Ana",
					Text: "A question about the second slide: why does the curve bend there?"}
				if _, err := s.AppendMessage(&msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
