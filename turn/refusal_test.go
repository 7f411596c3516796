package turn

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// TestRefusesAllocationWithoutValidParticipantCredential: each of these
// credentials fails the Allocate with 401 and is counted under its reason.
func TestRefusesAllocationWithoutValidParticipantCredential(t *testing.T) {
	aliceUsername, _ := credentialFor("alice")
	_, bobPassword := credentialFor("bob")
	anHourAgo := func() time.Time { return time.Now().Add(-time.Hour) }
	expiredUsername, expiredPassword, _ := Credentials{Secret: testSecret, TTL: time.Minute, Now: anHourAgo}.Issue("alice")
	outsiderUsername, outsiderPassword := credentialFor("mallory")
	forgedUsername, forgedPassword, _ := Credentials{Secret: []byte("not the secret")}.Issue("alice")

	tests := []struct {
		name               string
		username, password string
		reason             RefusalReason
	}{
		{"wrong password", aliceUsername, bobPassword, RefusedBadCredential},
		{"signed with another secret", forgedUsername, forgedPassword, RefusedBadCredential},
		{"malformed username", "alice", "whatever", RefusedBadCredential},
		{"expired", expiredUsername, expiredPassword, RefusedExpired},
		{"well signed but not a participant", outsiderUsername, outsiderPassword, RefusedNotAllowed},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			server := newTestServer(t, nil)
			client, _ := dialTURN(t, server, "udp", test.username, test.password, nil)
			_, err := client.Allocate()
			wantTURNError(t, err, int(stun.CodeUnauthorized))

			stats := server.Stats()
			for reason, count := range stats.AllocationsRefused {
				want := uint64(0)
				if reason == test.reason {
					want = 1
				}
				if count != want {
					t.Errorf("AllocationsRefused[%s] = %d, want %d", reason, count, want)
				}
			}
			if stats.Allocations != 0 {
				t.Errorf("Allocations = %d after a refusal, want 0", stats.Allocations)
			}
		})
	}
}

// TestRefusesRelayToInternalPeers: with no exception for them, permissions
// to loopback and private addresses fail with 403, and so does the first
// WriteTo to one (pion's client creates the permission on first write).
// 127.0.0.2 is the positive control: an AllowPeers exception is honoured.
func TestRefusesRelayToInternalPeers(t *testing.T) {
	server := newTestServer(t, func(cfg *Config) {
		cfg.AllowPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
	})
	username, password := credentialFor("alice")
	client, _ := dialTURN(t, server, "udp", username, password, nil)
	relay, err := client.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	t.Cleanup(func() { _ = relay.Close() })

	// Only permissions are asked for these: a permission sends nothing, so
	// no datagram is ever addressed to them even if the filter were broken.
	internal := []string{"127.0.0.1", "10.0.0.1", "192.168.1.1", "172.16.0.1", "169.254.169.254", "100.64.0.1"}
	for _, ip := range internal {
		peer := &net.UDPAddr{IP: net.ParseIP(ip), Port: 9}
		wantTURNError(t, client.CreatePermission(peer), int(stun.CodeForbidden))
	}

	loopbackPeer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("peer socket: %v", err)
	}
	t.Cleanup(func() { _ = loopbackPeer.Close() })
	_, err = relay.WriteTo([]byte("must not arrive"), loopbackPeer.LocalAddr())
	wantTURNError(t, err, int(stun.CodeForbidden))

	if err := client.CreatePermission(&net.UDPAddr{IP: net.ParseIP("127.0.0.2"), Port: 9}); err != nil {
		t.Fatalf("permission to the allowed 127.0.0.2: %v", err)
	}
	if got, want := server.Stats().PeersRefused, uint64(len(internal)+1); got != want {
		t.Fatalf("PeersRefused = %d, want %d", got, want)
	}
}

// TestCapsAllocationsPerUser: the user's allocation beyond the cap gets 486
// and is counted; releasing one (Refresh with lifetime 0, which is what
// closing the relay sends) frees its slot for the next.
func TestCapsAllocationsPerUser(t *testing.T) {
	server := newTestServer(t, func(cfg *Config) { cfg.MaxAllocationsPerUser = 2 })
	first := mustAllocateAs(t, server, "alice")
	mustAllocateAs(t, server, "alice")
	mustAllocateAs(t, server, "bob") // another user is not affected

	_, err := allocateAs(t, server, "alice")
	wantTURNError(t, err, int(stun.CodeAllocQuotaReached))
	if got := server.Stats().AllocationsRefused[RefusedUserCap]; got != 1 {
		t.Fatalf("AllocationsRefused[user_cap] = %d, want 1", got)
	}

	if err := first.Close(); err != nil {
		t.Fatalf("close the first relay: %v", err)
	}
	waitForAllocations(t, server, 2)
	mustAllocateAs(t, server, "alice")
}

// TestCapsAllocationsPerClientIP: users behind one address share its cap;
// closing a TCP control connection (pion deletes its allocation) frees a slot.
func TestCapsAllocationsPerClientIP(t *testing.T) {
	server := newTestServer(t, func(cfg *Config) { cfg.MaxAllocationsPerIP = 2 })
	mustAllocateAs(t, server, "alice")
	username, password := credentialFor("bob")
	bob, closeBobConnection := dialTURN(t, server, "tcp", username, password, nil)
	if _, err := bob.Allocate(); err != nil {
		t.Fatalf("bob Allocate over TCP: %v", err)
	}

	_, err := allocateAs(t, server, "carol")
	wantTURNError(t, err, int(stun.CodeAllocQuotaReached))
	if got := server.Stats().AllocationsRefused[RefusedIPCap]; got != 1 {
		t.Fatalf("AllocationsRefused[ip_cap] = %d, want 1", got)
	}

	closeBobConnection()
	waitForAllocations(t, server, 1)
	mustAllocateAs(t, server, "carol")
}
