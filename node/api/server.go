package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/meta"
)

// Config configures the API handler.
type Config struct {
	Engine *data.Engine
	Meta   meta.Store
	Tokens *Tokens
	// MaxBodyBytes caps request bodies; zero means 16 MiB.
	MaxBodyBytes int64
	// WriteTimeout bounds each write of an answer: the connection's write
	// deadline is moved this far ahead as the answer is written, so a long
	// answer (an export, a stream of changes) lasts as long as the client
	// keeps reading it, and a client that stops reading is cut off. Zero
	// leaves the server's deadline alone.
	WriteTimeout time.Duration
	// Status returns the body of GET /v1/status; MetaStatus that of
	// GET /v1/meta (the control plane as this node sees it).
	Status     func() any
	MetaStatus func() any
	// Health reports why the node cannot work (e.g. its store failed after
	// a disk error), or nil; GET /healthz answers 503 with the reason while
	// it is not nil. Nil means always healthy.
	Health func() error
	// Ready returns whether the node is ready and the body of GET /readyz
	// (200 when ready, else 503). Nil means always ready.
	Ready func() (bool, any)
	// Verify compares dataset digests with peers (GET /v1/verify); nil
	// answers 400 (a single node has nothing to compare).
	Verify func(ctx context.Context, peer, dataset string) (any, error)
	// Backup writes a backup of the node into dir on its machine
	// (POST /v1/backup) and returns its manifest; nil answers 400.
	Backup func(ctx context.Context, dir string) (any, error)
	// Registry receives the API's metrics and is served on /metrics; nil
	// means a new registry.
	Registry *prometheus.Registry
	Logger   *slog.Logger
}

// MaxBatchRecords caps the records of one batch write.
const MaxBatchRecords = 10_000

type server struct {
	cfg      Config
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// writeDuration times local writes from the decoded request to their
	// durable commit, by mode.
	writeDuration *prometheus.HistogramVec
}

// New returns the API handler. It is safe for concurrent use.
func New(cfg Config) http.Handler {
	mux, _ := newMux(cfg)
	return mux
}

// newMux is New, with the pattern of every route it serves (docs/openapi.yaml
// must describe exactly these).
func newMux(cfg Config) (*http.ServeMux, []string) {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 16 << 20
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MetaStatus == nil {
		cfg.MetaStatus = func() any { return map[string]any{"meta_index": cfg.Meta.View().Index} }
	}
	s := &server{
		cfg: cfg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lienthong_api_requests_total", Help: "API requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lienthong_api_request_duration_seconds", Help: "API request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"route"}),
		writeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lienthong_write_duration_seconds",
			Help:    "Local writes accepted, from the decoded request to their durable commit (schema checks, the wait for the committer, the fsync), by mode: put, patch, delete, or batch for a whole batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"mode"}),
	}
	cfg.Registry.MustRegister(s.requests, s.latency, s.writeDuration)

	mux := http.NewServeMux()
	var patterns []string
	route := func(pattern string, role Role, h http.HandlerFunc) {
		mux.Handle(pattern, s.wrap(pattern, role, h))
		patterns = append(patterns, pattern)
	}
	route("PUT /v1/datasets/{dataset}/entities/{key}", RoleWrite, s.write(data.Put))
	route("PATCH /v1/datasets/{dataset}/entities/{key}", RoleWrite, s.write(data.Patch))
	route("DELETE /v1/datasets/{dataset}/entities/{key}", RoleWrite, s.write(data.Delete))
	route("POST /v1/datasets/{dataset}/batch", RoleWrite, s.batch)
	route("GET /v1/datasets/{dataset}/entities", RoleRead, s.exportDataset)
	route("GET /v1/entities/{type}/{key}", RoleRead, s.getEntity)
	route("GET /v1/entities/{type}", RoleRead, s.listEntities)
	route("GET /v1/changes", RoleRead, s.changes)
	route("GET /v1/schemas", RoleRead, s.listSchemas)
	route("GET /v1/schemas/{type}", RoleRead, s.getSchema)
	route("PUT /v1/schemas/{type}", RoleAdmin, s.putSchema)
	route("GET /v1/datasets", RoleRead, s.listDatasets)
	route("GET /v1/datasets/{name}", RoleRead, s.getDataset)
	route("PUT /v1/datasets/{name}", RoleAdmin, s.putDataset)
	route("GET /v1/members", RoleRead, s.listMembers)
	route("PUT /v1/members/{name}", RoleAdmin, s.putMember)
	route("DELETE /v1/members/{name}", RoleAdmin, s.removeMember)
	route("POST /v1/datasets/{name}/transfer", RoleAdmin, s.transferDataset)
	route("POST /v1/datasets/{name}/grant", RoleAdmin, s.readers(meta.OpGrant))
	route("POST /v1/datasets/{name}/revoke", RoleAdmin, s.readers(meta.OpRevoke))
	route("GET /v1/meta", RoleRead, s.metaStatus)
	route("GET /v1/meta/snapshot", RoleAdmin, s.saveSnapshot)
	route("PUT /v1/meta/snapshot", RoleAdmin, s.restoreSnapshot)
	route("POST /v1/meta/gossip-keys", RoleAdmin, s.gossipKeys)
	route("GET /v1/tokens", RoleAdmin, s.listTokens)
	route("POST /v1/tokens", RoleAdmin, s.createToken)
	route("DELETE /v1/tokens/{name}", RoleAdmin, s.revokeToken)
	route("GET /v1/verify", RoleRead, s.verify)
	route("POST /v1/backup", RoleAdmin, s.backup)
	route("GET /v1/status", RoleRead, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, cfg.Status()) })
	route("GET /metrics", RoleMetrics, promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}).ServeHTTP)
	route("GET /healthz", RoleNone, func(w http.ResponseWriter, r *http.Request) {
		if cfg.Health != nil {
			if err := cfg.Health(); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "failed", "reason": err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	route("GET /readyz", RoleNone, func(w http.ResponseWriter, r *http.Request) {
		if cfg.Ready == nil {
			writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
			return
		}
		ok, body := cfg.Ready()
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, body)
	})
	mux.Handle("/", s.wrap("other", RoleNone, func(w http.ResponseWriter, r *http.Request) {
		if allow := allowed(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
				r.Method+" "+r.URL.Path+" is not served; this path takes "+strings.Join(allow, ", ")+" (see docs/api.md)", "", "")
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "no such route: "+r.Method+" "+r.URL.Path+" (see docs/api.md)", "", "")
	}))
	return mux, patterns
}

// allowed lists the methods mux serves for r's path: the catch-all route
// answers 405 for them rather than 404.
func allowed(mux *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, m := range []string{"GET", "PUT", "POST", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
			out = append(out, m)
		}
	}
	return out
}

// statusRecorder remembers the status code for metrics and keeps the write
// deadline ahead of the writes. (Reads need no such care: net/http lifts the
// read deadline once the request is read.)
type statusRecorder struct {
	http.ResponseWriter
	code int

	rc       *http.ResponseController
	timeout  time.Duration // zero: no deadline to move
	extended time.Time     // when the deadline was last moved
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.extend(false)
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	s.extend(false)
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// extend moves the write deadline timeout ahead, unless it was moved less
// than an eighth of it ago (or now is set).
func (s *statusRecorder) extend(now bool) {
	if s.timeout <= 0 {
		return
	}
	t := time.Now()
	if now || t.Sub(s.extended) > s.timeout/8 {
		s.rc.SetWriteDeadline(t.Add(s.timeout))
		s.extended = t
	}
}

// wrap adds authentication, the body cap and metrics to a handler.
func (s *server) wrap(route string, need Role, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK, rc: http.NewResponseController(w), timeout: s.cfg.WriteTimeout}
		defer func() {
			rec.extend(true) // for what the server writes after the handler
			s.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
			s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}()
		if need > RoleNone {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || tok == "" {
				rec.Header().Set("WWW-Authenticate", `Bearer realm="lienthong"`)
				writeError(rec, http.StatusUnauthorized, "unauthorized",
					"missing bearer token: send Authorization: Bearer TOKEN (lienthong init printed the tokens)", "", "")
				return
			}
			role := s.cfg.Tokens.Role(tok)
			if role == RoleNone {
				writeError(rec, http.StatusUnauthorized, "unauthorized", "token not accepted by this node", "", "")
				return
			}
			if role < need {
				writeError(rec, http.StatusForbidden, "forbidden",
					"this route needs the "+need.String()+" role; the token has "+role.String(), "", "")
				return
			}
		}
		r.Body = http.MaxBytesReader(rec, r.Body, s.cfg.MaxBodyBytes)
		h(rec, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
