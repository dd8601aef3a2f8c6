package cli

import (
	"context"
	"encoding/json"
	"fmt"
	stdio "io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lienthong/lienthong/node"
	"github.com/lienthong/lienthong/node/api"
	"github.com/lienthong/lienthong/node/meta"
)

func init() {
	register(&command{name: "member add", args: "--name N --peer-id ID --role seed|member", short: "admit a node to the federation", run: runMemberAdd})
	register(&command{name: "member list", args: "", short: "list members with their gossip state", run: runMemberList})
	register(&command{name: "member remove", args: "NAME", short: "remove a member; its connections are closed", run: runMemberRemove})
	register(&command{name: "dataset transfer", args: "NAME --to MEMBER", short: "make MEMBER the dataset's owner (bumps the owner epoch)", run: runDatasetTransfer})
	register(&command{name: "dataset grant", args: "NAME READER", short: "let READER read the dataset", run: runReaders("grant")})
	register(&command{name: "dataset revoke", args: "NAME READER", short: "stop READER from reading the dataset", run: runReaders("revoke")})
	register(&command{name: "meta status", args: "", short: "leader, voters, non-voters, applied index, members", run: runMetaStatus})
	register(&command{name: "meta snapshot save", args: "FILE", short: "back up the federation's metadata to FILE", run: runSnapshotSave})
	register(&command{name: "meta snapshot restore", args: "FILE", short: "replace the federation's metadata by a backup", run: runSnapshotRestore})
	register(&command{name: "meta gossip-key", args: "add|use|prune", short: "rotate the gossip key: add a new key, use it to send, prune the old ones (each step on every member first)", run: runGossipKey})
}

func runMemberAdd(ctx context.Context, io *IO, args []string) error {
	var cf clientFlags
	fs := newFlags(io, "member add", "--name N --peer-id ID --role seed|member [--addr MULTIADDR,...]")
	cf.register(fs)
	name := fs.String("name", "", "member name (required)")
	peerID := fs.String("peer-id", "", "the node's peer ID, printed by its lienthong init (required)")
	role := fs.String("role", "member", "seed or member")
	addrs := fs.String("addr", "", "comma-separated libp2p multiaddrs where the node listens (optional: it publishes its own)")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if *name == "" || *peerID == "" {
		return usagef("--name and --peer-id are required")
	}
	c, err := cf.client(io)
	if err != nil {
		return err
	}
	var out map[string]any
	body := api.MemberRequest{Role: *role, PeerID: *peerID, Addrs: splitList(*addrs)}
	if err := c.do(ctx, "PUT", "/v1/members/"+url.PathEscape(*name), body, &out); err != nil {
		return err
	}
	if cf.json {
		return printJSON(io.Out, out)
	}
	fmt.Fprintf(io.Out, "member %s (%s) admitted at metadata index %v\n", *name, *role, out["meta_index"])
	return nil
}

func runMemberList(ctx context.Context, io *IO, args []string) error {
	c, cf, _, err := clientCommand(io, "member list", "", args, 0, 0)
	if err != nil {
		return err
	}
	var st node.MetaStatus
	if err := c.do(ctx, "GET", "/v1/meta", nil, &st); err != nil {
		return err
	}
	if !st.Federated {
		var ms struct {
			Items []meta.Member `json:"items"`
		}
		if err := c.do(ctx, "GET", "/v1/members", nil, &ms); err != nil {
			return err
		}
		for _, m := range ms.Items {
			st.Members = append(st.Members, node.MemberStatus{Name: m.Name, Role: m.Role, PeerID: m.PeerID, State: "alive"})
		}
	}
	if cf.json {
		return printJSON(io.Out, st.Members)
	}
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tSINCE\tMETA INDEX\tPEER ID")
	for _, m := range st.Members {
		since := ""
		if !m.Since.IsZero() {
			since = m.Since.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", m.Name, m.Role, m.State, since, m.MetaIndex, m.PeerID)
	}
	return tw.Flush()
}

// simpleAdmin runs an admin request with no output but the metadata index.
func simpleAdmin(ctx context.Context, io *IO, cf clientFlags, method, path string, body any, done string) error {
	c, err := cf.client(io)
	if err != nil {
		return err
	}
	var out map[string]any
	if err := c.do(ctx, method, path, body, &out); err != nil {
		return err
	}
	if cf.json {
		return printJSON(io.Out, out)
	}
	fmt.Fprintf(io.Out, "%s (metadata index %v)\n", done, out["meta_index"])
	return nil
}

func runMemberRemove(ctx context.Context, io *IO, args []string) error {
	var cf clientFlags
	fs := newFlags(io, "member remove", "NAME")
	cf.register(fs)
	pos, err := parseFlags(fs, args, 1, 1)
	if err != nil {
		return err
	}
	return simpleAdmin(ctx, io, cf, "DELETE", "/v1/members/"+url.PathEscape(pos[0]), nil, "member "+pos[0]+" removed")
}

func runDatasetTransfer(ctx context.Context, io *IO, args []string) error {
	var cf clientFlags
	fs := newFlags(io, "dataset transfer", "NAME --to MEMBER")
	cf.register(fs)
	to := fs.String("to", "", "the new owner (required)")
	pos, err := parseFlags(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if *to == "" {
		return usagef("--to is required")
	}
	return simpleAdmin(ctx, io, cf, "POST", "/v1/datasets/"+url.PathEscape(pos[0])+"/transfer",
		map[string]string{"to": *to}, "dataset "+pos[0]+" now owned by "+*to)
}

func runReaders(verb string) func(context.Context, *IO, []string) error {
	return func(ctx context.Context, io *IO, args []string) error {
		var cf clientFlags
		fs := newFlags(io, "dataset "+verb, "NAME READER")
		cf.register(fs)
		pos, err := parseFlags(fs, args, 2, 2)
		if err != nil {
			return err
		}
		return simpleAdmin(ctx, io, cf, "POST", "/v1/datasets/"+url.PathEscape(pos[0])+"/"+verb,
			map[string]string{"reader": pos[1]}, fmt.Sprintf("dataset %s: %s %sed", pos[0], pos[1], strings.TrimSuffix(verb, "e")))
	}
}

func runMetaStatus(ctx context.Context, io *IO, args []string) error {
	c, cf, _, err := clientCommand(io, "meta status", "", args, 0, 0)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := c.do(ctx, "GET", "/v1/meta", nil, &raw); err != nil {
		return err
	}
	if cf.json {
		return printJSON(io.Out, raw)
	}
	var st node.MetaStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		return err
	}
	if st.Control == nil {
		fmt.Fprintf(io.Out, "single-node federation, metadata index %d\n", st.MetaIndex)
		return nil
	}
	cs := st.Control
	fmt.Fprintf(io.Out, "this node: %s, leader: %s\nvoters: %s\nnon-voters: %s\napplied index %d, commit index %s, metadata index %d\n",
		cs.State, cs.Leader, strings.Join(cs.Voters, ", "), strings.Join(cs.Nonvoters, ", "), cs.AppliedIndex, cs.CommitIndex, st.MetaIndex)
	if !cs.LastContact.IsZero() {
		fmt.Fprintf(io.Out, "last contact with the leader: %s ago\n", time.Since(cs.LastContact).Round(time.Millisecond))
	}
	if len(st.GossipKeyIDs) > 0 {
		fmt.Fprintf(io.Out, "gossip keys: %s (sending), %d in all\n", st.GossipKeyIDs[0], len(st.GossipKeyIDs))
	}
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tROLE\tSTATE\tMETA INDEX")
	for _, m := range st.Members {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", m.Name, m.Role, m.State, m.MetaIndex)
	}
	return tw.Flush()
}

func runSnapshotSave(ctx context.Context, io *IO, args []string) error {
	c, _, pos, err := clientCommand(io, "meta snapshot save", "FILE", args, 1, 1)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := c.do(ctx, "GET", "/v1/meta/snapshot", nil, &raw); err != nil {
		return err
	}
	if err := replaceFile(pos[0], func(w stdio.Writer) error { _, err := w.Write(raw); return err }); err != nil {
		return err
	}
	fmt.Fprintf(io.Err, "metadata saved to %s (%d bytes)\n", pos[0], len(raw))
	return nil
}

func runSnapshotRestore(ctx context.Context, io *IO, args []string) error {
	var cf clientFlags
	fs := newFlags(io, "meta snapshot restore", "FILE")
	cf.register(fs)
	pos, err := parseFlags(fs, args, 1, 1)
	if err != nil {
		return err
	}
	b, err := readInput(io, pos[0])
	if err != nil {
		return err
	}
	return simpleAdmin(ctx, io, cf, "PUT", "/v1/meta/snapshot", b, "metadata restored from "+pos[0])
}

func runGossipKey(ctx context.Context, io *IO, args []string) error {
	var cf clientFlags
	fs := newFlags(io, "meta gossip-key", "add|use|prune")
	cf.register(fs)
	pos, err := parseFlags(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if pos[0] != "add" && pos[0] != "use" && pos[0] != "prune" {
		return usagef("want add, use or prune, not %q", pos[0])
	}
	return simpleAdmin(ctx, io, cf, "POST", "/v1/meta/gossip-keys", map[string]string{"action": pos[0]}, "gossip keys: "+pos[0]+" done")
}
