package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"meet/app"
	"meet/protocol"
	"meet/store"
)

// config is every setting of the binary. Each flag has a MEET_* twin in the
// environment; a flag given on the command line wins over its twin.
type config struct {
	addr              string
	dbPath            string
	dataDirFlag       string
	meshMax           int
	lastN             int
	bandwidthEstimate bool
	recordingsDir     string
	maxRecordingMB    int
	secret            string
	logLevel          string
	iceServers        string
	udpPort           int
	publicIP          string
	backDelay         time.Duration
	reconnectGrace    time.Duration
	pprof             string
	metricsAddr       string
	tls               tlsFlags
	turn              networkFlags

	// Several nodes on one PostgreSQL database.
	nodeID       string
	publicURL    string
	internalURL  string
	nodeTimeout  time.Duration
	nodeCapacity int

	// Abuse limits; 0 turns a limit off.
	maxParticipants int
	maxRooms        int
	roomsPerMinute  int
	joinsPerMinute  int
	allowedOrigins  string
	trustedProxies  string
}

// envName maps a flag name to its environment twin: mesh-max → MEET_MESH_MAX.
func envName(flagName string) string {
	return "MEET_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseConfig reads flags from args, falling back to getenv for each flag
// that was not given.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := cfg.flagSet(stderr)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := setFromEnv(fs, getenv); err != nil {
		return nil, err
	}
	if cfg.metricsAddr == "off" {
		// An empty environment variable means "not set", so the twin
		// needs a word to turn the listener off.
		cfg.metricsAddr = ""
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// flagSet defines every flag of the binary, each writing into c.
func (c *config) flagSet(stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("meet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", ":8080", "HTTP listen address")
	fs.StringVar(&c.dbPath, "db", "./data/meet.db", "the database: a SQLite file (its directory is the data directory), or a PostgreSQL URL, postgres://user:password@host:5432/dbname")
	fs.StringVar(&c.dataDirFlag, "data-dir", "", "directory for the secret, certificates and recordings (default: the -db file's directory; ./data with a PostgreSQL -db)")
	fs.IntVar(&c.meshMax, "mesh-max", 4, "largest room that stays peer-to-peer; one more participant moves it to the SFU; 0 = every room uses the SFU")
	fs.StringVar(&c.secret, "secret", "", "HMAC secret for identity tokens (default: generated once and kept in the data directory)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&c.iceServers, "ice-servers", "", `ICE servers for browsers: comma-separated URLs ("stun:host:3478"), or a JSON array of RTCIceServer objects`)
	fs.IntVar(&c.udpPort, "udp-port", 8443, "the SFU's one UDP port for all media (ICE UDP mux)")
	fs.StringVar(&c.publicIP, "public-ip", "", "IP address announced in the SFU's ICE candidates, for NAT 1:1 (Docker, cloud)")
	fs.IntVar(&c.lastN, "last-n", 9, "in a room on the SFU with more video publishers than this, each viewer gets the videos of the N most recent speakers only; 0 = every video")
	fs.BoolVar(&c.bandwidthEstimate, "bandwidth-estimate", true, "estimate each SFU viewer's downlink and send each video the simulcast layer it carries; false sends every viewer the layer its tile asks for")
	fs.StringVar(&c.recordingsDir, "recordings-dir", "", "where rooms' recordings are written (default: recordings in the data directory)")
	fs.IntVar(&c.maxRecordingMB, "max-recording-mb", 2048, "largest recording, in MB (its files together); it stops cleanly there; 0 = no limit")
	fs.DurationVar(&c.backDelay, "back-to-mesh-delay", 10*time.Second, "how long an SFU room must stay at or below -mesh-max before it returns to mesh")
	fs.DurationVar(&c.reconnectGrace, "reconnect-grace", 15*time.Second, "how long a participant whose connection dropped is kept, shown reconnecting, for its page to resume; 0 turns resuming off")
	fs.IntVar(&c.maxParticipants, "max-participants", app.DefaultMaxParticipants, "most participants in one room, spectators included; 0 = no limit")
	fs.IntVar(&c.maxRooms, "max-rooms", app.DefaultMaxRooms, "most rooms in use (with participants) at once; 0 = no limit")
	fs.IntVar(&c.roomsPerMinute, "rooms-per-minute", app.DefaultRoomsPerMinute, "rooms one client address may create per minute; 0 = no limit")
	fs.IntVar(&c.joinsPerMinute, "joins-per-minute", app.DefaultJoinsPerMinute, "WebSocket joins one client address may open per minute; 0 = no limit")
	fs.StringVar(&c.allowedOrigins, "allowed-origins", "", `other origins whose pages may open the WebSocket, comma-separated ("https://host[:port]"), or "*"; same-origin pages always may`)
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For names the client; none by default")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "127.0.0.1:9090", `listen address for Prometheus metrics (/metrics), kept off the public address; "off" (or empty) turns it off`)
	fs.StringVar(&c.pprof, "pprof", "", "listen address for Go's profiler (net/http/pprof), e.g. 127.0.0.1:6060; off when empty. Never expose it publicly")
	fs.StringVar(&c.nodeID, "node-id", app.DefaultNodeID(), "this node's name among the nodes sharing one database")
	fs.StringVar(&c.publicURL, "public-url", "", "the address browsers reach this node at, e.g. https://node1.example.com (default: the page's own origin)")
	fs.StringVar(&c.internalURL, "internal-url", "", "the address the other nodes reach this node at to forward joins of its rooms, e.g. http://10.0.0.5:8080 (default: the listen address, with the host name when it listens on every interface)")
	fs.IntVar(&c.nodeCapacity, "node-capacity", 0, "how many viewers of one classroom this node serves before the next ones get their media from another node of the same database (0: no limit, every viewer is served here)")
	fs.DurationVar(&c.nodeTimeout, "node-timeout", app.DefaultNodeTimeout, "a node that misses its heartbeats this long is dead and its rooms are placed again; it beats every third of it")
	c.tls.define(fs)
	c.turn.define(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: meet [flags]\n\nEvery flag can also be set with its MEET_* environment variable (e.g. -mesh-max → MEET_MESH_MAX).")
		fs.PrintDefaults()
	}
	return fs
}

// setFromEnv sets each flag not given on the command line from its MEET_*
// twin, when that is set (not empty). The first value a flag refuses is the
// error.
func setFromEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || envErr != nil {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", envName(f.Name), v, err)
			}
		}
	})
	return envErr
}

// check refuses values that parse but make no sense, naming the flag.
func (c *config) check() error {
	if c.meshMax < 0 {
		return fmt.Errorf("-mesh-max must be 0 (always the SFU) or more, got %d", c.meshMax)
	}
	if c.lastN < 0 {
		return fmt.Errorf("-last-n must be 0 (no limit) or more, got %d", c.lastN)
	}
	if c.maxRecordingMB < 0 {
		return fmt.Errorf("-max-recording-mb must be 0 (no limit) or more, got %d", c.maxRecordingMB)
	}
	if c.udpPort < 0 || c.udpPort > 65535 {
		return fmt.Errorf("-udp-port must be 0-65535, got %d", c.udpPort)
	}
	if c.publicIP != "" && net.ParseIP(c.publicIP) == nil {
		return fmt.Errorf("-public-ip %q is not an IP address", c.publicIP)
	}
	for name, v := range map[string]int{
		"max-participants": c.maxParticipants, "max-rooms": c.maxRooms,
		"rooms-per-minute": c.roomsPerMinute, "joins-per-minute": c.joinsPerMinute,
	} {
		if v < 0 {
			return fmt.Errorf("-%s must be 0 (no limit) or more, got %d", name, v)
		}
	}
	if c.backDelay <= 0 {
		return fmt.Errorf("-back-to-mesh-delay must be positive, got %s", c.backDelay)
	}
	if c.reconnectGrace < 0 {
		return fmt.Errorf("-reconnect-grace must be 0 or more, got %s", c.reconnectGrace)
	}
	if err := c.checkNode(); err != nil {
		return err
	}
	if _, err := c.level(); err != nil {
		return err
	}
	if err := c.tls.check(); err != nil {
		return err
	}
	if err := c.turn.check(); err != nil {
		return err
	}
	_, err := c.parseICEServers()
	return err
}

// appConfig is the application's configuration from the flags, mapping each
// flag's "0 turns it off" to the app's conventions.
func (c *config) appConfig(db *store.Store, secret []byte, iceServers []protocol.ICEServer, logger *slog.Logger) app.Config {
	cfg := app.Config{
		Store:       db,
		Secret:      secret,
		MeshMax:     alwaysSFUIfZero(c.meshMax),
		LastN:       c.lastN,
		FixedLayers: !c.bandwidthEstimate,
		ICEServers:  iceServers,
		Logger:      logger,

		BackToMeshDelay: c.backDelay,
		ReconnectGrace:  reconnectGrace(c.reconnectGrace),

		MaxParticipants: noLimitIfZero(c.maxParticipants),
		MaxRooms:        noLimitIfZero(c.maxRooms),
		RoomsPerMinute:  noLimitIfZero(c.roomsPerMinute),
		JoinsPerMinute:  noLimitIfZero(c.joinsPerMinute),
		AllowedOrigins:  list(c.allowedOrigins),
		TrustedProxies:  list(c.trustedProxies),
		UDPPort:         c.udpPort,
		PublicIP:        c.publicIP,

		RecordingsDir:     c.recordings(),
		MaxRecordingBytes: int64(c.maxRecordingMB) << 20,

		NodeID:      c.nodeID,
		PublicURL:   c.publicURL,
		NodeTimeout: c.nodeTimeout,

		NodeCapacity: c.nodeCapacity,
	}
	cfg.ICETCP, cfg.TCPPort = c.turn.iceTCP()
	return cfg
}

// checkNode refuses node settings that cannot work.
func (c *config) checkNode() error {
	if strings.TrimSpace(c.nodeID) == "" || len(c.nodeID) > 128 {
		return fmt.Errorf("-node-id must be 1 to 128 characters, got %q", c.nodeID)
	}
	if c.nodeCapacity < 0 {
		return fmt.Errorf("-node-capacity must be 0 (no limit) or more, got %d", c.nodeCapacity)
	}
	if c.nodeTimeout < 100*time.Millisecond {
		return fmt.Errorf("-node-timeout must be at least 100ms, got %s", c.nodeTimeout)
	}
	for name, raw := range map[string]string{"public-url": c.publicURL, "internal-url": c.internalURL} {
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("-%s %q is not an http:// or https:// URL", name, raw)
		}
	}
	return nil
}

// internalAddress is the address the other nodes forward joins to:
// -internal-url, else the public listener's bound address (this host's
// name in place of an address of every interface), over HTTPS when the
// listener serves it.
func (c *config) internalAddress(bound net.Addr, https bool) string {
	if c.internalURL != "" {
		return c.internalURL
	}
	host, port, err := net.SplitHostPort(bound.String())
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		if name, err := os.Hostname(); err == nil && name != "" {
			host = name
		}
	}
	scheme := "http"
	if https {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// dataDir is where the secret, certificates and recordings are kept:
// -data-dir, else the SQLite file's directory, else (a PostgreSQL -db)
// ./data.
func (c *config) dataDir() string {
	switch {
	case c.dataDirFlag != "":
		return c.dataDirFlag
	case store.IsPostgres(c.dbPath):
		return "./data"
	}
	return filepath.Dir(c.dbPath)
}

// recordings is the recordings' directory: -recordings-dir, or recordings
// beside the database.
func (c *config) recordings() string {
	if c.recordingsDir != "" {
		return c.recordingsDir
	}
	return filepath.Join(c.dataDir(), "recordings")
}

// list splits a comma-separated flag value, dropping empty items.
func list(raw string) []string {
	var out []string
	for _, item := range strings.Split(raw, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// noLimitIfZero maps a flag's "0 = no limit" to app.Config's negative.
func noLimitIfZero(v int) int {
	if v == 0 {
		return -1
	}
	return v
}

func (c *config) level() (slog.Level, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return 0, fmt.Errorf("-log-level %q: want debug, info, warn or error", c.logLevel)
	}
	return lvl, nil
}

func (c *config) parseICEServers() ([]protocol.ICEServer, error) {
	raw := strings.TrimSpace(c.iceServers)
	if raw == "" {
		return []protocol.ICEServer{}, nil
	}
	if strings.HasPrefix(raw, "[") {
		var servers []protocol.ICEServer
		if err := json.Unmarshal([]byte(raw), &servers); err != nil {
			return nil, fmt.Errorf("-ice-servers is not a JSON array of ICE servers: %w", err)
		}
		return servers, nil
	}
	var servers []protocol.ICEServer
	for _, u := range strings.Split(raw, ",") {
		u = strings.TrimSpace(u)
		if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			return nil, fmt.Errorf("-ice-servers: %q is not a stun:, turn: or turns: URL", u)
		}
		servers = append(servers, protocol.ICEServer{URLs: []string{u}})
	}
	return servers, nil
}

// identitySecret names the secret of identity tokens and invites in the
// database.
const identitySecret = "identity"

// sharedSecret returns the secret identity tokens and invites are signed
// with: -secret when given (every node of a deployment must then be given
// the same), else the one kept in the database, which every node sharing
// it reads, so that a cookie one node issued is good on all. The first
// start creates it: from the data directory's secret.key when there is one
// (a node from before the database kept it keeps its users' identities),
// else a new one; with SQLite, secret.key is written as before.
func (c *config) sharedSecret(db *store.Store) ([]byte, error) {
	if c.secret != "" {
		return c.loadSecret()
	}
	secret, err := db.Secret(identitySecret, func() ([]byte, error) {
		if !store.IsPostgres(c.dbPath) {
			return c.loadSecret()
		}
		// Not written to a file: each node's would differ from the one
		// the database keeps.
		if kept, err := c.secretFile(); kept != nil || err != nil {
			return kept, err
		}
		return newSecret()
	})
	if err != nil {
		return nil, err
	}
	if len(secret) < 32 {
		return nil, fmt.Errorf("the database's secret %q is shorter than 32 bytes", identitySecret)
	}
	return secret, nil
}

// loadSecret returns the configured secret, or the one kept in the data
// directory, creating it on first start so identities survive restarts.
func (c *config) loadSecret() ([]byte, error) {
	if c.secret != "" {
		if len(c.secret) < 32 {
			return nil, errors.New("-secret must be at least 32 characters")
		}
		return []byte(c.secret), nil
	}
	if kept, err := c.secretFile(); kept != nil || err != nil {
		return kept, err
	}
	secret, err := newSecret()
	if err != nil {
		return nil, err
	}
	path := c.secretPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if err := os.WriteFile(path, append(secret, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("write secret: %w", err)
	}
	return secret, nil
}

func (c *config) secretPath() string { return filepath.Join(c.dataDir(), "secret.key") }

// secretFile is the secret kept in the data directory, nil when there is
// none.
func (c *config) secretFile() ([]byte, error) {
	path := c.secretPath()
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read secret: %w", err)
	}
	if s := strings.TrimSpace(string(data)); len(s) >= 32 {
		return []byte(s), nil
	}
	return nil, fmt.Errorf("%s holds a secret shorter than 32 characters", path)
}

// newSecret is a fresh secret: 32 random bytes, in hex.
func newSecret() ([]byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	return []byte(hex.EncodeToString(raw)), nil
}
