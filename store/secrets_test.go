package store

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"meet/store/storetest"
)

// TestSecretIsOneForEveryNode: nodes on one database that start together,
// each a Store of its own and each with a value of its own to offer, all
// get one and the same secret, which later starts keep.
func TestSecretIsOneForEveryNode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		first, dsn := mustOpen(t, d)
		stores := []*Store{first}
		for range 3 {
			s, err := Open(dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			stores = append(stores, s)
		}
		got := make([][]byte, len(stores))
		errs := make([]error, len(stores))
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = s.Secret("identity", func() ([]byte, error) {
					return []byte(fmt.Sprintf("the secret of node %d, long enough", i)), nil
				})
			}()
		}
		wg.Wait()
		for i := range stores {
			if errs[i] != nil {
				t.Fatalf("node %d: %v", i, errs[i])
			}
			if !bytes.Equal(got[i], got[0]) || len(got[i]) == 0 {
				t.Fatalf("node %d got %q, node 0 %q", i, got[i], got[0])
			}
		}
		// A later start does not generate: the stored value stands.
		again, err := stores[1].Secret("identity", func() ([]byte, error) {
			t.Fatal("generated a secret that exists")
			return nil, nil
		})
		if err != nil || !bytes.Equal(again, got[0]) {
			t.Fatalf("again = %q, %v", again, err)
		}
		// Another name is another secret; a failed or empty generate
		// stores nothing.
		boom := errors.New("no randomness")
		if _, err := first.Secret("other", func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Fatalf("a failed generate: %v", err)
		}
		if _, err := first.Secret("other", func() ([]byte, error) { return nil, nil }); err == nil {
			t.Fatal("an empty secret was stored")
		}
		other, err := first.Secret("other", func() ([]byte, error) { return []byte("x"), nil })
		if err != nil || string(other) != "x" {
			t.Fatalf("other = %q, %v", other, err)
		}
	})
}
