package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	stdio "io"
	"strings"
	"time"

	"github.com/lienthong/lienthong/node/api"
	"github.com/lienthong/lienthong/node/data"
)

func init() {
	register(&command{name: "changes", args: "[--since CURSOR] [--follow]", short: "print the change feed; --follow keeps printing new changes", run: runChanges})
	register(&command{name: "status", args: "", short: "print the node's status", run: runStatus})
}

func runChanges(ctx context.Context, io *IO, args []string) error {
	var cf clientFlags
	fs := newFlags(io, "changes", "[--since CURSOR] [--limit N] [--follow]")
	cf.register(fs)
	since := fs.Uint64("since", 0, "print changes after this cursor")
	limit := fs.Int("limit", 1000, "changes per page")
	follow := fs.Bool("follow", false, "keep printing new changes until interrupted")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return helpRequested(fs, err)
	}
	c, err := cf.client(io)
	if err != nil {
		return err
	}
	print := func(ch data.ChangeView) {
		if cf.json {
			b, _ := json.Marshal(ch)
			fmt.Fprintf(io.Out, "%s\n", b)
			return
		}
		fields, _ := json.Marshal(ch.Fields)
		if ch.Op == "delete" {
			fields = nil
		}
		fmt.Fprintf(io.Out, "%d\t%s\t%s %s/%s\t%s:%d\t%s %s\n", ch.Cursor, ch.Time, ch.Type, ch.Dataset, ch.Key, ch.Origin, ch.Seq, ch.Op, fields)
	}
	if !*follow {
		for {
			var page api.ChangesPage
			if err := c.do(ctx, "GET", fmt.Sprintf("/v1/changes?since=%d&limit=%d", *since, *limit), nil, &page); err != nil {
				return err
			}
			for _, ch := range page.Changes {
				print(ch)
			}
			if len(page.Changes) < *limit {
				return nil
			}
			*since = page.Next
		}
	}
	resp, err := c.send(ctx, "GET", fmt.Sprintf("/v1/changes?since=%d&limit=%d", *since, *limit), nil, "text/event-stream")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ch data.ChangeView
		if err := json.Unmarshal([]byte(line), &ch); err != nil {
			return fmt.Errorf("undecodable event: %w", err)
		}
		print(ch)
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil && !errors.Is(err, stdio.ErrUnexpectedEOF) {
		return err
	}
	if ctx.Err() != nil {
		return nil // interrupted: a normal end of --follow
	}
	return fmt.Errorf("%w: the node closed the change feed", errUnreachable)
}

func runStatus(ctx context.Context, io *IO, args []string) error {
	c, cf, _, err := clientCommand(io, "status", "", args, 0, 0)
	if err != nil {
		return err
	}
	var st struct {
		Name          string `json:"name"`
		PeerID        string `json:"peer_id"`
		Version       string `json:"version"`
		UptimeSeconds int64  `json:"uptime_seconds"`
		MetaIndex     uint64 `json:"meta_index"`
		Changes       uint64 `json:"changes"`
		Datasets      []struct {
			Name, EntityType, Owner, Role string
			OwnerEpoch                    uint64 `json:"owner_epoch"`
			Streams                       []struct {
				Origin string `json:"origin"`
				Seq    uint64 `json:"seq"`
			} `json:"streams"`
		} `json:"datasets"`
	}
	var raw json.RawMessage
	if err := c.do(ctx, "GET", "/v1/status", nil, &raw); err != nil {
		return err
	}
	if cf.json {
		return printJSON(io.Out, raw)
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return err
	}
	var fed struct {
		Peers []struct {
			Name      string    `json:"name"`
			Connected bool      `json:"connected"`
			Addr      string    `json:"addr"`
			LastSync  time.Time `json:"last_sync"`
		} `json:"peers"`
		Quarantined []struct{ Peer, Dataset, Origin, Reason string } `json:"quarantined"`
		Lag         []struct {
			Dataset string    `json:"dataset"`
			Reader  string    `json:"reader"`
			Ops     uint64    `json:"ops_behind"`
			Seconds float64   `json:"seconds_behind"`
			Last    time.Time `json:"last_pull"`
		} `json:"lag"`
		Alarms []string `json:"alarms"`
	}
	json.Unmarshal(raw, &fed)
	fmt.Fprintf(io.Out, "node %s (%s), version %s, up %ds\nmetadata index %d, %d changes applied\n",
		st.Name, st.PeerID, st.Version, st.UptimeSeconds, st.MetaIndex, st.Changes)
	for _, d := range st.Datasets {
		var streams []string
		for _, s := range d.Streams {
			streams = append(streams, fmt.Sprintf("%s:%d", s.Origin, s.Seq))
		}
		fmt.Fprintf(io.Out, "  %-24s %-6s owner %s (epoch %d)  streams %s\n", d.Name, d.Role, d.Owner, d.OwnerEpoch, strings.Join(streams, " "))
	}
	for _, p := range fed.Peers {
		state := "not connected"
		if p.Connected {
			state = "connected via " + p.Addr
		}
		last := "never"
		if !p.LastSync.IsZero() {
			last = time.Since(p.LastSync).Round(time.Millisecond).String() + " ago"
		}
		fmt.Fprintf(io.Out, "  peer %-10s %s, last sync %s\n", p.Name, state, last)
	}
	for _, l := range fed.Lag {
		fmt.Fprintf(io.Out, "  reader %-10s of %-22s %d ops, %.1f s behind at its last pull (%s ago)\n", l.Reader, l.Dataset, l.Ops, l.Seconds, time.Since(l.Last).Round(time.Millisecond))
	}
	for _, a := range fed.Alarms {
		fmt.Fprintf(io.Out, "  ALARM: %s\n", a)
	}
	for _, q := range fed.Quarantined {
		fmt.Fprintf(io.Out, "  quarantined: %s/%s from %s (%s)\n", q.Dataset, q.Origin, q.Peer, q.Reason)
	}
	return nil
}
