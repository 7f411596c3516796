package store

import (
	"sync"
	"testing"

	"meet/store/storetest"
)

// TestNodesStartTogether opens several stores on one empty database at
// once, as nodes of a deployment started together do: every one migrates
// and opens (PostgreSQL refused concurrent CREATE TABLEs of one table
// before the migration took a lock).
func TestNodesStartTogether(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		dsn := d.NewDSN(t)
		const nodes = 4
		errs := make([]error, nodes)
		var wg sync.WaitGroup
		for i := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := Open(dsn)
				if err == nil {
					t.Cleanup(func() { s.Close() })
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("node %d: %v", i, err)
			}
		}
	})
}
