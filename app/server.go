// Package app is the meeting application's adapters: identity, the HTTP
// API (gin) and the WebSocket endpoint (melody), around the live rooms of
// package room. It wires the leaf packages together; none of them imports
// it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/olahol/melody"
	"golang.org/x/crypto/bcrypt"

	"meet/app/room"
	"meet/protocol"
	"meet/sfu"
	"meet/store"
)

// Config is everything the application needs. cmd/meet fills it from flags
// and environment variables.
type Config struct {
	Store  *store.Store
	Secret []byte // HMAC key for identity tokens; at least 32 bytes
	// MeshMax: a room with more participants than this leaves mesh. 0
	// takes the default (4); negative means every room uses the SFU from
	// its first participant (webinars, large classes).
	MeshMax int
	// LastN: in an SFU room with more video publishers than this, each
	// viewer gets the videos of the N most recent speakers only; 0 means
	// every video.
	LastN int
	// FixedLayers turns the SFU's bandwidth estimate per viewer off: each
	// gets the simulcast layer its tile asks for, whatever its link.
	FixedLayers bool
	ICEServers  []protocol.ICEServer
	Logger      *slog.Logger

	// BackToMeshDelay is how long an SFU room must stay at or below
	// MeshMax before it returns to mesh. Default 10 s.
	BackToMeshDelay time.Duration
	// SFUGrace is how long after a return to mesh the server keeps SFU
	// connections a client has not closed itself. Default 30 s.
	SFUGrace time.Duration
	// ReconnectGrace is how long a participant whose socket dropped stays
	// in the room, shown reconnecting, waiting for its client to resume
	// (resume.go). Default 15 s; negative: a dropped socket is a leave.
	ReconnectGrace time.Duration
	// UDPPort is the SFU's one UDP port for all media; 0 picks a free one.
	UDPPort int
	// ICETCP also lets clients reach the SFU over TCP (ICE-TCP), on
	// TCPPort, or the UDP port's number when that is 0.
	ICETCP  bool
	TCPPort int
	// PublicIP is announced in the SFU's ICE candidates (NAT 1:1).
	PublicIP string
	// TURN is the STUN/TURN service the browsers are told about (turn.go).
	TURN TURNConfig

	// Abuse limits (limits.go). For each, 0 takes the default and a
	// negative value turns the limit off.
	MaxParticipants int // per room; default 100
	MaxRooms        int // live rooms (with participants) at once; default 1000
	RoomsPerMinute  int // rooms one client address may create; default 20
	JoinsPerMinute  int // WebSocket joins from one client address; default 120
	// AllowedOrigins are pages of other origins that may open the
	// WebSocket ("https://host[:port]", or "*" for any). Same-origin
	// pages always may.
	AllowedOrigins []string
	// TrustedProxies are the addresses or CIDRs of reverse proxies whose
	// X-Forwarded-For names the client. None by default: the client is
	// the connection's peer, so nobody can pick their own address.
	TrustedProxies []string

	// RecordingsDir is where rooms' recordings are written (recordings.go);
	// empty: rooms cannot record. MaxRecordingBytes caps one recording's
	// files together; 0 is no cap.
	RecordingsDir     string
	MaxRecordingBytes int64

	// Now is the chat's clock: it stamps messages and refills the chat
	// rate limit. nil means time.Now; tests pass a clock they move.
	Now func() time.Time

	// Several nodes on one database (nodes.go). NodeID names this node
	// (default: the host name); PublicURL is the address browsers reach
	// it at (empty: the page's own origin); a node that misses its
	// heartbeats for NodeTimeout is dead (default DefaultNodeTimeout).
	NodeID      string
	PublicURL   string
	NodeTimeout time.Duration
	// InternalURL is the address the other nodes forward joins of this
	// node's rooms to (proxy.go), when it is known before New; else
	// Server.SetInternalURL sets it once the server listens.
	InternalURL string
	// NodeCapacity, above 0, is how many viewers of one classroom this
	// node serves before the next ones get their media from another node
	// (cascade.go).
	NodeCapacity int
}

// Server is the running application.
type Server struct {
	store  *store.Store
	log    *slog.Logger
	tokens tokenSigner
	secret []byte // the server's secret: identity tokens' and invites' keys derive from it
	hub    *room.Hub
	// whip are the encoders publishing over WHIP now (whip.go).
	whip whipSessions
	// whep are the players watching over WHEP now (whep.go).
	whep    whepSessions
	sfu     *sfu.SFU
	turn    *turnService
	chat    *chatLink
	ws      *melody.Melody
	router  *gin.Engine
	metrics http.Handler
	// node is this server as one of the nodes sharing the database.
	node *node
	// proxyTransport carries the requests forwarded to other nodes
	// (proxy.go).
	proxyTransport *http.Transport
	// cascade serves viewers of this node's rooms from other nodes, nil
	// without -node-capacity; pipes feed this node's share of other
	// nodes' rooms (edge.go).
	cascade *cascade
	pipes   *pipes

	reconnectGrace time.Duration // <= 0: no resume
	// iceServers are the -ice-servers every page is told, before the
	// TURN service's own (turn.go).
	iceServers []protocol.ICEServer

	maxParticipants int
	createLimit     *ipLimiter // nil: no limit
	joinLimit       *ipLimiter
	// passcodeLimit counts wrong passcodes per address and room
	// (passcode.go); passcodeCost is bcrypt's, and passcodeWait how long
	// a socket may take to send its passcode frame.
	passcodeLimit *ipLimiter
	passcodeCost  int
	passcodeWait  time.Duration
	// admission lets a few joins at a time do their work (entering the
	// room, the welcome, the room's SFU connection); the rest wait their turn,
	// so a crowd arriving together is served first come, first served
	// rather than every join crawling along at once and all finishing
	// late.
	admission      chan struct{}
	origins        originPolicy
	trustedProxies []string
}

// maxBodyBytes bounds every request body the API reads.
const maxBodyBytes = 64 << 10

// New builds the application. It does not listen: serve Handler().
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	origins, err := newOriginPolicy(cfg.AllowedOrigins)
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	if err := checkTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	// The SFU names each room's dominant speaker from a goroutine of the
	// room's, which starts only once a room exists, after New.
	var hub *room.Hub
	media, err := sfu.New(sfu.Config{
		UDPPort: cfg.UDPPort, ICETCP: cfg.ICETCP, TCPPort: cfg.TCPPort,
		PublicIP: cfg.PublicIP, Logger: cfg.Logger.With("component", "sfu"),
		OnSpeaker: func(roomID, peerID string) { hub.ActiveSpeaker(roomID, peerID) },
		LastN:     cfg.LastN, FixedLayers: cfg.FixedLayers,
	})
	if err != nil {
		return nil, err
	}
	s := &Server{
		admission:      make(chan struct{}, runtime.GOMAXPROCS(0)),
		store:          cfg.Store,
		log:            cfg.Logger,
		tokens:         tokenSigner{secret: cfg.Secret},
		secret:         cfg.Secret,
		sfu:            media,
		proxyTransport: newProxyTransport(),

		reconnectGrace: cfg.ReconnectGrace,
		iceServers:     cfg.ICEServers,

		maxParticipants: limitOrDefault(cfg.MaxParticipants, DefaultMaxParticipants),
		createLimit:     newIPLimiter(limitOrDefault(cfg.RoomsPerMinute, DefaultRoomsPerMinute), nil),
		joinLimit:       newIPLimiter(limitOrDefault(cfg.JoinsPerMinute, DefaultJoinsPerMinute), nil),
		origins:         origins,
		trustedProxies:  cfg.TrustedProxies,

		passcodeLimit: newIPLimiter(passcodeFailuresPerMinute, nil),
		passcodeCost:  bcrypt.DefaultCost,
		passcodeWait:  defaultPasscodeWait,
	}
	s.pipes = &pipes{s: s}
	if s.chat, err = newChatLink(cfg.Store, cfg.Logger, cfg.Now); err != nil {
		_ = media.Close()
		return nil, err
	}
	s.hub = room.NewHub(room.Config{
		Store:    cfg.Store,
		Log:      cfg.Logger,
		Policy:   s.roomPolicy(cfg, media),
		MaxRooms: limitOrDefault(cfg.MaxRooms, DefaultMaxRooms),
		Recordings: room.Recordings{
			Dir: cfg.RecordingsDir, MaxBytes: cfg.MaxRecordingBytes, Node: cfg.NodeID,
		},
	})
	hub = s.hub
	if s.turn, err = startTURN(cfg.TURN, cfg.Logger, s.hub.HasUser); err != nil {
		_ = media.Close()
		return nil, err
	}
	s.ws = s.newMelody()
	s.router = s.routes()
	s.metrics = s.metricsHandler()
	s.node = newNode(cfg)
	if err := s.startNode(); err != nil {
		_ = media.Close()
		s.turn.close()
		return nil, err
	}
	return s, nil
}

// withDefaults checks the fields New cannot do without and fills in the
// defaults of the others.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Store == nil {
		return cfg, errors.New("app: Config.Store is required")
	}
	if len(cfg.Secret) < 32 {
		return cfg, errors.New("app: Config.Secret must be at least 32 bytes")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch {
	case cfg.MeshMax == 0:
		cfg.MeshMax = 4
	case cfg.MeshMax < 0:
		cfg.MeshMax = 0 // one participant is already past it
	}
	if cfg.ICEServers == nil {
		cfg.ICEServers = []protocol.ICEServer{}
	}
	if cfg.BackToMeshDelay <= 0 {
		cfg.BackToMeshDelay = 10 * time.Second
	}
	if cfg.SFUGrace <= 0 {
		cfg.SFUGrace = 30 * time.Second
	}
	if cfg.ReconnectGrace == 0 {
		cfg.ReconnectGrace = 15 * time.Second
	}
	if cfg.NodeID == "" {
		cfg.NodeID = DefaultNodeID()
	}
	if cfg.NodeTimeout <= 0 {
		cfg.NodeTimeout = DefaultNodeTimeout
	}
	return cfg, nil
}

// roomPolicy is the mode policy every live room gets: when to leave mesh and
// come back, how a failed SFU connection is reported to its participant,
// and, with -node-capacity, which viewers other nodes serve (cascade.go).
func (s *Server) roomPolicy(cfg Config, media *sfu.SFU) room.Policy {
	policy := room.Policy{
		MeshMax:   cfg.MeshMax,
		BackDelay: cfg.BackToMeshDelay,
		SFUGrace:  cfg.SFUGrace,
		SFU:       media,
		OnSFUError: func(p *room.Participant, err error) {
			s.log.Error("connect participant to the SFU", "participant", p.ID(), "err", err)
			sendError(p, protocol.CodeInternal, "Could not connect you to the media server.", protocol.TypeMode)
		},
	}
	if cfg.NodeCapacity > 0 {
		s.cascade = newCascade(s, cfg.NodeCapacity)
		policy.NodeCapacity, policy.Edges = cfg.NodeCapacity, s.cascade
	}
	return policy
}

// SFUPort is the UDP port the SFU listens on.
func (s *Server) SFUPort() int { return s.sfu.Port() }

// SFUTCPPort is the SFU's ICE-TCP port, or 0 without ICE over TCP.
func (s *Server) SFUTCPPort() int { return s.sfu.TCPPort() }

// TURNPort is the built-in TURN server's port, or 0 when it is not running.
func (s *Server) TURNPort() int {
	if s.turn == nil || s.turn.server == nil {
		return 0
	}
	return s.turn.port
}

// Handler serves the whole application to the public.
func (s *Server) Handler() http.Handler { return s.router }

// MetricsHandler serves Prometheus metrics. It is not part of Handler: room
// and participant counts and traffic are for the operator, so cmd/meet
// serves them on a listener of their own (-metrics-addr).
func (s *Server) MetricsHandler() http.Handler { return s.metrics }

// Shutdown tells every connected participant that the server is going
// away, closes their sockets and records that they left.
func (s *Server) Shutdown(ctx context.Context) error {
	for _, live := range s.hub.All() {
		live.End(encode(protocol.Error{
			Type: protocol.TypeError, Code: protocol.CodeRestarting,
			Message: "The server is restarting. Reconnect in a moment.",
		}), protocol.CloseRestarting, "server restarting")
	}
	done := make(chan struct{})
	go func() {
		// Give the close frames a moment to leave before melody drops the
		// connections.
		time.Sleep(100 * time.Millisecond)
		_ = s.ws.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	s.stopHeartbeats()
	s.stopEvents()
	s.proxyTransport.CloseIdleConnections()
	if err := s.sfu.Close(); err != nil {
		s.log.Warn("close sfu", "err", err)
	}
	s.turn.close()
	return s.closeOwnAttendance()
}

func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// Checked in New: the list is valid.
	_ = r.SetTrustedProxies(s.trustedProxies)
	r.Use(s.recoverer, securityHeaders)

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", s.readyz)
	// Nodes of a cascade, signed with the shared secret (cascade.go).
	r.GET("/internal/pipe", s.servePipe)
	r.GET("/internal/edge", s.serveEdge)

	// The request checks come before withIdentity: a refused request
	// is given no identity.
	api := r.Group("/api", s.checkRequestOrigin, s.requireJSONBody, s.withIdentity, limitBody)
	api.GET("/me", s.getMe)
	api.PUT("/me", s.putMe)
	api.GET("/rooms", s.listRooms)
	api.POST("/rooms", s.createRoom)
	// The room's live state is on its host (proxy.go).
	api.GET("/rooms/:id", s.toRoomHost, s.getRoom)
	api.GET("/rooms/:id/participants", s.toRoomHost, s.getParticipants)
	api.PATCH("/rooms/:id", s.patchRoom)
	api.POST("/rooms/:id/end", s.endRoom)
	api.GET("/rooms/:id/messages", s.getMessages)
	api.GET("/rooms/:id/attendance", s.getAttendance)
	api.POST("/rooms/:id/passcode", s.postPasscode)
	api.GET("/rooms/:id/bans", s.getBans)
	api.GET("/rooms/:id/invites", s.getInvites)
	api.POST("/rooms/:id/invites", s.postInvite)
	api.DELETE("/rooms/:id/invites/:invite", s.deleteInvite)
	// Changes only the live room can make go to its host too (events.go).
	api.POST("/rooms/:id/recording", s.toRoomHost, s.postRecording)
	api.GET("/rooms/:id/recordings", s.getRecordings)
	api.GET("/recordings/:rid/files/:name", s.getRecordingFile)
	api.DELETE("/recordings/:rid", s.deleteRecording)
	api.DELETE("/rooms/:id/bans/:user", s.toRoomHost, s.deleteBan)
	// WHIP (whip.go): SDP bodies, and a bearer token or nothing.
	whip := r.Group("/api", requireBearer, s.withIdentity, limitBody)
	// On several nodes, a session starts on the room's host and is ended
	// where it lives (proxy.go).
	whip.POST("/rooms/:id/whip", s.toPlacedHost, s.postWHIP)
	whip.DELETE("/whip/:session", s.toSessionNode(s.whip.has), s.deleteWHIP)
	whip.PATCH("/whip/:session", s.refuseTrickle)
	// WHEP (whep.go): SDP bodies, an optional bearer token, and CORS for
	// players on other sites.
	whep := r.Group("/api", whepCORS, limitBody)
	whep.POST("/rooms/:id/whep", s.toPlacedHost, s.postWHEP)
	whep.OPTIONS("/rooms/:id/whep")
	whep.DELETE("/whep/:session", s.toSessionNode(s.whep.has), s.deleteWHEP)
	whep.PATCH("/whep/:session", s.refuseTrickle)
	whep.OPTIONS("/whep/:session")
	// Outside withIdentity: it is how a page with a bad token starts over.
	r.DELETE("/api/me", s.checkRequestOrigin, s.forgetMe)

	r.GET("/ws", s.withIdentity, s.serveWS)

	s.frontendRoutes(r)

	r.NoRoute(s.notFound)
	r.NoMethod(func(c *gin.Context) {
		s.abortWithError(c, newError(http.StatusMethodNotAllowed, protocol.CodeMethod, "Method not allowed here."))
	})
	return r
}

// recoverer turns a panic in a handler into a logged 500 instead of a dead
// connection; the process keeps serving everyone else.
func (s *Server) recoverer(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.log.Error("panic in handler", "path", c.Request.URL.Path, "panic", v)
			s.abortWithError(c, errors.New("panic"))
		}
	}()
	c.Next()
}

func limitBody(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes)
	c.Next()
}
