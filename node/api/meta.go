package api

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"slices"

	"github.com/lienthong/lienthong/node/meta"
)

// Metadata routes: members, dataset ownership and readers, backups, the
// gossip key. Every write is a meta.Command proposed to the metadata store
// (through Raft in a federation, forwarded to its leader).

// propose commits c and answers its metadata index: 201 if created is
// true, else 200.
func (s *server) propose(w http.ResponseWriter, r *http.Request, c meta.Command, created bool) {
	v, err := s.cfg.Meta.Propose(r.Context(), c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, createdOr200(created), map[string]any{"meta_index": v.Index})
}

func (s *server) listMembers(w http.ResponseWriter, r *http.Request) {
	v := s.cfg.Meta.View()
	writeJSON(w, http.StatusOK, map[string]any{"items": v.Members(), "meta_index": v.Index})
}

// MemberRequest is the body of PUT /v1/members/{name}.
type MemberRequest struct {
	Role   string   `json:"role"`
	PeerID string   `json:"peer_id"`
	Addrs  []string `json:"addrs,omitempty"`
}

func (s *server) putMember(w http.ResponseWriter, r *http.Request) {
	var req MemberRequest
	if err := decodeBody(r, &req, true); err != nil {
		s.fail(w, r, err)
		return
	}
	if !validPeerID(req.PeerID) {
		s.fail(w, r, badRequest("peer_id %q is not a libp2p peer ID (lienthong init prints it as peer_id)", req.PeerID))
		return
	}
	isNew := s.cfg.Meta.View().Member(r.PathValue("name")) == nil
	s.propose(w, r, meta.Command{Op: meta.OpPutMember, Member: &meta.Member{Name: r.PathValue("name"), Role: req.Role, PeerID: req.PeerID, Addrs: req.Addrs}}, isNew)
}

func (s *server) removeMember(w http.ResponseWriter, r *http.Request) {
	s.propose(w, r, meta.Command{Op: meta.OpRemoveMember, Name: r.PathValue("name")}, false)
}

func (s *server) transferDataset(w http.ResponseWriter, r *http.Request) {
	var req struct {
		To string `json:"to"`
	}
	if err := decodeBody(r, &req, true); err != nil {
		s.fail(w, r, err)
		return
	}
	s.propose(w, r, meta.Command{Op: meta.OpTransfer, Name: r.PathValue("name"), To: req.To}, false)
}

func (s *server) readers(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Reader string `json:"reader"`
		}
		if err := decodeBody(r, &req, true); err != nil {
			s.fail(w, r, err)
			return
		}
		s.propose(w, r, meta.Command{Op: op, Name: r.PathValue("name"), Reader: req.Reader}, false)
	}
}

func (s *server) metaStatus(w http.ResponseWriter, r *http.Request) {
	if !s.consistent(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, s.cfg.MetaStatus())
}

func (s *server) saveSnapshot(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.cfg.Meta.View().WithoutSecrets())
}

func (s *server) restoreSnapshot(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := meta.DecodeView(b); err != nil { // refuse a bad backup before it reaches the log
		s.fail(w, r, err)
		return
	}
	s.propose(w, r, meta.Command{Op: meta.OpRestore, View: b}, false)
}

// gossipKeys rotates the federation's gossip key in three steps, each to be
// applied by every member before the next: "add" installs a new key for
// receiving, "use" makes the newest key the one that sends, "prune" drops
// all but the key in use.
func (s *server) gossipKeys(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Action string `json:"action"`
	}
	if err := decodeBody(r, &req, true); err != nil {
		s.fail(w, r, err)
		return
	}
	keys := slices.Clone(s.cfg.Meta.View().Settings.GossipKeys)
	if len(keys) == 0 {
		s.fail(w, r, badRequest("this federation has no gossip key yet"))
		return
	}
	switch req.Action {
	case "add":
		k := make([]byte, 32)
		rand.Read(k)
		keys = append(keys, k)
	case "use":
		keys = append(keys[len(keys)-1:], keys[:len(keys)-1]...)
	case "prune":
		keys = keys[:1]
	default:
		s.fail(w, r, badRequest("action %q: want add, use or prune", req.Action))
		return
	}
	s.propose(w, r, meta.Command{Op: meta.OpGossipKeys, Keys: keys}, false)
}

// syncer is a metadata store that can make a read linearizable.
type syncer interface {
	Sync(ctx context.Context) error
}

// consistent waits, for ?consistent=true, until the node has applied all
// metadata committed before the request; it reports false after answering
// with an error.
func (s *server) consistent(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Query().Get("consistent") != "true" {
		return true
	}
	if sy, ok := s.cfg.Meta.(syncer); ok {
		if err := sy.Sync(r.Context()); err != nil {
			s.fail(w, r, err)
			return false
		}
	}
	return true
}

func validPeerID(s string) bool { return len(s) > 40 && len(s) < 128 && dictSafe(s) }

func dictSafe(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func (s *server) verify(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Verify == nil {
		s.fail(w, r, badRequest("this node is not in a federation: there is no peer to compare with"))
		return
	}
	res, err := s.cfg.Verify(r.Context(), r.URL.Query().Get("peer"), r.URL.Query().Get("dataset"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": res})
}

// backup writes a backup of the node into the directory the request names,
// on the node's own machine, and answers its manifest.
func (s *server) backup(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Dir string `json:"dir"`
	}
	if err := decodeBody(r, &req, true); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Dir == "" || s.cfg.Backup == nil {
		s.fail(w, r, badRequest("give {\"dir\": \"/absolute/path\"}: a new or empty directory on the node's machine, outside its node directory"))
		return
	}
	m, err := s.cfg.Backup(r.Context(), req.Dir)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}
