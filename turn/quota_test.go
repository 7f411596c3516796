package turn

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
)

func ownerAt(ip, userID string) allocationOwner {
	return allocationOwner{clientIP: netip.MustParseAddr(ip), userID: userID}
}

// TestLedgerReservesAtomically: many racing reservations for one user take
// exactly the cap, which the admits-then-reserve split depends on.
func TestLedgerReservesAtomically(t *testing.T) {
	ledger := newAllocationLedger(10, 1000)
	var granted atomic.Int64
	var releases sync.Map
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			if release, _, ok := ledger.reserve(ownerAt("198.51.100.1", "alice")); ok {
				granted.Add(1)
				releases.Store(i, release)
			}
		})
	}
	wg.Wait()
	if granted.Load() != 10 {
		t.Fatalf("%d reservations granted, want the cap of 10", granted.Load())
	}
	releases.Range(func(_, release any) bool {
		release.(func())()
		return true
	})
	if len(ledger.perUser) != 0 || len(ledger.perIP) != 0 {
		t.Fatalf("after releasing all: perUser %v, perIP %v; want both empty", ledger.perUser, ledger.perIP)
	}
}

func TestLedgerCapsAndReleases(t *testing.T) {
	ledger := newAllocationLedger(2, 3)
	alice := ownerAt("198.51.100.1", "alice")

	releaseFirst, _, _ := ledger.reserve(alice)
	ledger.reserve(alice)
	if reason, ok := ledger.admits(alice); ok || reason != RefusedUserCap {
		t.Fatalf("third for alice: admits = %q, %v; want user_cap", reason, ok)
	}
	if _, reason, ok := ledger.reserve(alice); ok || reason != RefusedUserCap {
		t.Fatalf("third for alice: reserve = %q, %v; want user_cap", reason, ok)
	}
	ledger.reserve(ownerAt("198.51.100.1", "bob"))
	if _, reason, ok := ledger.reserve(ownerAt("198.51.100.1", "carol")); ok || reason != RefusedIPCap {
		t.Fatalf("fourth from one IP: reserve = %q, %v; want ip_cap", reason, ok)
	}
	if _, _, ok := ledger.reserve(ownerAt("198.51.100.2", "carol")); !ok {
		t.Fatalf("carol from another IP was refused")
	}

	// A release called twice gives back one slot only.
	releaseFirst()
	releaseFirst()
	if reason, ok := ledger.admits(alice); !ok {
		t.Fatalf("after a release alice is refused (%s), want a free slot", reason)
	}
	if ledger.perUser["alice"] != 1 || ledger.perIP[netip.MustParsePrefix("198.51.100.1/32")] != 2 {
		t.Fatalf("after one release: perUser %v, perIP %v", ledger.perUser, ledger.perIP)
	}
}

// TestLedgerCountsIPv6ByPrefix: addresses of one /64 share the per-IP cap,
// and an IPv4-mapped client is its IPv4 address.
func TestLedgerCountsIPv6ByPrefix(t *testing.T) {
	ledger := newAllocationLedger(10, 2)
	ledger.reserve(ownerAt("2001:db8:1:2::1", "alice"))
	ledger.reserve(ownerAt("2001:db8:1:2:ffff::9", "bob"))
	if _, reason, ok := ledger.reserve(ownerAt("2001:db8:1:2::77", "carol")); ok || reason != RefusedIPCap {
		t.Fatalf("third in one /64: reserve = %q, %v; want ip_cap", reason, ok)
	}
	if _, _, ok := ledger.reserve(ownerAt("2001:db8:1:3::1", "carol")); !ok {
		t.Fatalf("another /64 was refused")
	}

	mapped, ok := addrIP(&net.UDPAddr{IP: net.ParseIP("::ffff:198.51.100.7")})
	if !ok || mapped != netip.MustParseAddr("198.51.100.7") {
		t.Fatalf("addrIP of an IPv4-mapped client = %v, %v; want 198.51.100.7", mapped, ok)
	}
}

func TestOwnerRoundTrip(t *testing.T) {
	for _, owner := range []allocationOwner{
		ownerAt("198.51.100.1", "alice"),
		ownerAt("2001:db8::1", "user with spaces and : colons"),
	} {
		parsed, err := parseOwner(owner.String())
		if err != nil || parsed != owner {
			t.Errorf("parseOwner(%q) = %+v, %v; want %+v", owner.String(), parsed, err, owner)
		}
	}
	for _, text := range []string{"", "alice", "198.51.100.1", "198.51.100.1 ", "not-an-ip alice"} {
		if _, err := parseOwner(text); err == nil {
			t.Errorf("parseOwner(%q) succeeded, want refused", text)
		}
	}
}
