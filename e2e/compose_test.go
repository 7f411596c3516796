package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// There is no Docker engine on the development machines, so these tests
// check the container files statically: docker-compose.yml runs the service
// meet with the right ports and a volume on /data, built from a Dockerfile
// that builds with cgo (SQLite) and exposes the ports.

// composeFile is the part of docker-compose.yml that the tests read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Build       any      `yaml:"build"` // "." or {context, dockerfile}
	Ports       []any    `yaml:"ports"` // "8080:8080" or {target, published, protocol}
	Volumes     []any    `yaml:"volumes"`
	Environment any      `yaml:"environment"` // map or list of KEY=VALUE
	Restart     string   `yaml:"restart"`
	Profiles    []string `yaml:"profiles"`
	Image       string   `yaml:"image"`
	Entrypoint  []string `yaml:"entrypoint"`
	DependsOn   any      `yaml:"depends_on"` // list or map of service: condition
}

// port is one published port of a service.
type port struct {
	Host, Container int
	Protocol        string // tcp or udp
}

// readCompose reads and parses docker-compose.yml: its text and its
// services.
func readCompose(t *testing.T, root string) ([]byte, composeFile) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(data, &cf); err != nil {
		t.Fatalf("docker-compose.yml is not valid YAML: %v", err)
	}
	return data, cf
}

func TestComposeFile(t *testing.T) {
	root := repoRoot(t)
	data, cf := readCompose(t, root)
	svc, ok := cf.Services["meet"]
	if !ok {
		t.Fatalf("docker-compose.yml has no service meet (services: %v)", keys(cf.Services))
	}

	// Ports: HTTP on 8080/tcp, WebRTC media on 8443/udp and its ICE-TCP
	// twin on 8443/tcp, and STUN/TURN on 3478 both ways.
	var ports []port
	for _, p := range svc.Ports {
		pp, err := parsePort(p)
		if err != nil {
			t.Errorf("service meet: %v", err)
			continue
		}
		ports = append(ports, pp)
	}
	for _, want := range []port{{8080, 8080, "tcp"}, {8443, 8443, "udp"}, {8443, 8443, "tcp"}, {3478, 3478, "udp"}, {3478, 3478, "tcp"}} {
		if !slices.Contains(ports, want) {
			t.Errorf("service meet does not publish %d:%d/%s (ports: %+v)", want.Host, want.Container, want.Protocol, ports)
		}
	}

	// Metrics listen inside the container for a scraper on the same
	// network, and are never published on the host.
	for _, p := range ports {
		if p.Container == 9090 {
			t.Errorf("service meet publishes the metrics port: %+v", p)
		}
	}

	// A named volume on /data, declared at the top level.
	var dataVolume string
	for _, v := range svc.Volumes {
		src, target := parseVolume(v)
		if target == "/data" {
			dataVolume = src
		}
	}
	switch {
	case dataVolume == "":
		t.Errorf("service meet has no volume on /data (volumes: %v)", svc.Volumes)
	case strings.HasPrefix(dataVolume, ".") || strings.HasPrefix(dataVolume, "/"):
		t.Errorf("the volume on /data is the bind mount %q, want a named volume", dataVolume)
	default:
		if _, ok := cf.Volumes[dataVolume]; !ok {
			t.Errorf("the volume %q on /data is not declared under the top-level volumes", dataVolume)
		}
	}

	env := environment(t, svc.Environment)
	for k, want := range map[string]string{"MEET_ADDR": ":8080", "MEET_DB": "/data/meet.db", "MEET_UDP_PORT": "8443", "MEET_METRICS_ADDR": "0.0.0.0:9090"} {
		if env[k] != want {
			t.Errorf("service meet: environment %s = %q, want %q", k, env[k], want)
		}
	}
	if !strings.Contains(string(data), "MEET_PUBLIC_IP") {
		t.Errorf("docker-compose.yml does not mention MEET_PUBLIC_IP (a commented placeholder is enough)")
	}
	if svc.Restart != "unless-stopped" {
		t.Errorf("service meet: restart %q, want unless-stopped", svc.Restart)
	}

	// The Dockerfile it builds.
	ctxDir, dockerfile := buildFiles(t, svc.Build)
	checkDockerfile(t, filepath.Join(root, ctxDir, dockerfile))
}

// checkDockerfile checks the Dockerfile of the service: a builder stage with
// cgo on, and a runtime stage that runs as a non-root user, keeps its data in
// the /data volume, exposes 8080/tcp, 8443 (UDP and TCP) and 3478 (UDP and TCP) and starts the binary with
// its database in /data.
func checkDockerfile(t *testing.T, path string) {
	t.Helper()
	stages, err := parseDockerfile(path)
	if err != nil {
		t.Fatalf("the Dockerfile of service meet: %v", err)
	}
	if len(stages) < 2 {
		t.Fatalf("%s has %d stage(s), want a multi-stage build", path, len(stages))
	}
	var builder *stage
	for i := range stages {
		if strings.HasPrefix(stages[i].from, "golang:") {
			builder = &stages[i]
			break
		}
	}
	if builder == nil {
		t.Fatalf("%s has no builder stage FROM golang:...", path)
	}
	if !builder.has("ENV", "CGO_ENABLED=1") && !builder.has("ARG", "CGO_ENABLED=1") && !builder.has("RUN", "CGO_ENABLED=1") {
		t.Errorf("the builder stage (FROM %s) does not set CGO_ENABLED=1, which SQLite needs", builder.from)
	}
	final := stages[len(stages)-1]
	if final.from == builder.from || strings.HasPrefix(final.from, "golang:") {
		t.Errorf("the last stage runs FROM %s, want a small runtime image", final.from)
	}
	for _, want := range []string{"8080/tcp", "8443/udp", "8443/tcp", "3478/udp", "3478/tcp"} {
		if !final.has("EXPOSE", want) {
			t.Errorf("the runtime stage does not EXPOSE %s", want)
		}
	}
	if !final.has("VOLUME", "/data") {
		t.Errorf("the runtime stage does not declare VOLUME /data")
	}
	if !final.has("ENTRYPOINT", "/data/meet.db") {
		t.Errorf("the ENTRYPOINT does not put the database in /data/meet.db")
	}
	user := final.last("USER")
	if user == "" || user == "root" || user == "0" || strings.HasPrefix(user, "0:") || strings.HasPrefix(user, "root:") {
		t.Errorf("the runtime stage runs as %q, want a non-root USER", user)
	}
	if !final.has("COPY", "--from=") {
		t.Errorf("the runtime stage copies nothing from the builder")
	}
}

// stage is one FROM section of a Dockerfile: its base image and its
// instructions, with continuation lines joined.
type stage struct {
	from         string
	instructions [][2]string // keyword (upper case), arguments
}

func (s *stage) has(keyword, substr string) bool {
	for _, in := range s.instructions {
		if in[0] == keyword && strings.Contains(in[1], substr) {
			return true
		}
	}
	return false
}

func (s *stage) last(keyword string) string {
	v := ""
	for _, in := range s.instructions {
		if in[0] == keyword {
			v = strings.TrimSpace(in[1])
		}
	}
	return v
}

func parseDockerfile(path string) ([]stage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		stages  []stage
		pending string
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			pending += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		line, pending = pending+line, ""
		keyword, args, _ := strings.Cut(line, " ")
		keyword = strings.ToUpper(keyword)
		if keyword == "FROM" {
			fields := strings.Fields(args)
			for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
				fields = fields[1:] // --platform=...
			}
			if len(fields) == 0 {
				return nil, fmt.Errorf("FROM without an image in %s", path)
			}
			stages = append(stages, stage{from: fields[0]})
			continue
		}
		if len(stages) == 0 {
			if keyword == "ARG" {
				continue // ARG before the first FROM
			}
			return nil, fmt.Errorf("%s before the first FROM in %s", keyword, path)
		}
		s := &stages[len(stages)-1]
		s.instructions = append(s.instructions, [2]string{keyword, strings.TrimSpace(args)})
	}
	return stages, sc.Err()
}

// parsePort reads a port in the short syntax ("8080:8080", "8443:8443/udp",
// "127.0.0.1:8080:8080") or the long one ({target, published, protocol}).
func parsePort(p any) (port, error) {
	switch v := p.(type) {
	case string:
		spec, proto, found := strings.Cut(v, "/")
		if !found {
			proto = "tcp"
		}
		parts := strings.Split(spec, ":")
		if len(parts) < 2 {
			return port{}, fmt.Errorf("port %q does not publish on the host", v)
		}
		host, err1 := strconv.Atoi(parts[len(parts)-2])
		ctr, err2 := strconv.Atoi(parts[len(parts)-1])
		if err1 != nil || err2 != nil {
			return port{}, fmt.Errorf("port %q: not a single host:container pair", v)
		}
		return port{host, ctr, proto}, nil
	case map[string]any:
		target, _ := toInt(v["target"])
		published, _ := toInt(v["published"])
		proto, _ := v["protocol"].(string)
		if proto == "" {
			proto = "tcp"
		}
		return port{published, target, proto}, nil
	case uint64, int64, int:
		return port{}, fmt.Errorf("port %v is not published on a fixed host port", v)
	}
	return port{}, fmt.Errorf("port %v (%T): unknown syntax", p, p)
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case uint64:
		return int(n), true
	case int64:
		return int(n), true
	case int:
		return n, true
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}

// parseVolume reads a volume in the short syntax ("name:/data[:ro]") or the
// long one ({source, target}).
func parseVolume(v any) (source, target string) {
	switch v := v.(type) {
	case string:
		parts := strings.Split(v, ":")
		if len(parts) == 1 {
			return "", parts[0]
		}
		return parts[0], parts[1]
	case map[string]any:
		source, _ = v["source"].(string)
		target, _ = v["target"].(string)
	}
	return source, target
}

// environment reads a service's environment, a map or a list of KEY=VALUE.
func environment(t *testing.T, env any) map[string]string {
	m := map[string]string{}
	switch e := env.(type) {
	case map[string]any:
		for k, v := range e {
			m[k] = fmt.Sprint(v)
		}
	case []any:
		for _, kv := range e {
			k, v, _ := strings.Cut(fmt.Sprint(kv), "=")
			m[k] = v
		}
	case nil:
	default:
		t.Errorf("environment of unknown form %T", env)
	}
	return m
}

// buildFiles reads a service's build: the context directory and the
// Dockerfile in it.
func buildFiles(t *testing.T, build any) (dir, dockerfile string) {
	t.Helper()
	switch b := build.(type) {
	case string:
		return b, "Dockerfile"
	case map[string]any:
		dir, _ = b["context"].(string)
		dockerfile, _ = b["dockerfile"].(string)
		if dir == "" {
			dir = "."
		}
		if dockerfile == "" {
			dockerfile = "Dockerfile"
		}
		return dir, dockerfile
	}
	t.Fatalf("service meet has no build (build: %v), so compose cannot build the app", build)
	return "", ""
}

// repoRoot is the directory of go.mod above the package directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
