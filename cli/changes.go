package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	stdio "io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lienthong/lienthong/node/api"
	"github.com/lienthong/lienthong/node/data"
)

func init() {
	register(&command{name: "changes", args: "[--since CURSOR] [--dataset D] [--type T] [--follow]", short: "print the change feed; --follow keeps printing new changes", run: runChanges})
	register(&command{name: "status", args: "", short: "print the node's status", run: runStatus})
}

func runChanges(ctx context.Context, io *IO, args []string) error {
	var cf clientFlags
	fs := newFlags(io, "changes", "[--since CURSOR] [--limit N] [--dataset D] [--type T] [--follow]")
	cf.register(fs)
	since := fs.Uint64("since", 0, "print changes after this cursor")
	limit := fs.Int("limit", 1000, "changes per page")
	dataset := fs.String("dataset", "", "only the changes of this dataset")
	typ := fs.String("type", "", "only the changes of this entity type")
	follow := fs.Bool("follow", false, "keep printing new changes until interrupted; reconnects, resuming after the last change printed, when the node goes away")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	c, err := cf.client(io)
	if err != nil {
		return err
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	if *dataset != "" {
		q.Set("dataset", *dataset)
	}
	if *typ != "" {
		q.Set("type", *typ)
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
			q.Set("since", strconv.FormatUint(*since, 10))
			var page api.ChangesPage
			if err := c.do(ctx, "GET", "/v1/changes?"+q.Encode(), nil, &page); err != nil {
				return err
			}
			for _, ch := range page.Changes {
				print(ch)
			}
			if !page.More {
				return nil
			}
			*since = page.Next
		}
	}
	return followChanges(ctx, io, c.streaming(), q, *since, print)
}

// Timings of changes --follow: the node sends a keep-alive every 15 s, so
// followIdle without a byte means a dead link; reconnects back off from
// followRetryMin to followRetryMax.
var (
	followIdle     = 45 * time.Second
	followRetryMin = 500 * time.Millisecond
	followRetryMax = 30 * time.Second
)

// followChanges prints the change feed from after since until ctx ends. When
// the stream breaks (the node restarts, the link dies) it reconnects with
// Last-Event-ID, the cursor of the last change printed, so nothing is
// printed twice or skipped. An error answer (a bad token, an unknown
// dataset) ends it: retrying would not help.
func followChanges(ctx context.Context, io *IO, c *Client, q url.Values, since uint64, print func(data.ChangeView)) error {
	wait := followRetryMin
	for {
		err := followOnce(ctx, c, q, &since, print, func() { wait = followRetryMin })
		if ctx.Err() != nil {
			return nil // interrupted: the normal end of --follow
		}
		var ae *APIError
		if errors.As(err, &ae) && ae.Status < 500 {
			return err
		}
		fmt.Fprintf(io.Err, "lienthong changes: lost the feed after cursor %d (%v); reconnecting in %s\n", since, err, wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, followRetryMax)
	}
}

// followOnce reads one event stream, advancing *since past each change
// printed; connected runs once the node has answered.
func followOnce(ctx context.Context, c *Client, q url.Values, since *uint64, print func(data.ChangeView), connected func()) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(followIdle, func() { cancel(fmt.Errorf("nothing from the node for %s", followIdle)) })
	defer idle.Stop()
	resp, err := c.sendWith(ctx, "GET", "/v1/changes?"+q.Encode(), nil, http.Header{
		"Accept": {"text/event-stream"}, "Last-Event-ID": {strconv.FormatUint(*since, 10)}})
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			return cause
		}
		return err
	}
	defer resp.Body.Close()
	connected()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		idle.Reset(followIdle)
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ch data.ChangeView
		if err := json.Unmarshal([]byte(line), &ch); err != nil {
			return fmt.Errorf("undecodable event: %w", err)
		}
		print(ch)
		*since = ch.Cursor
	}
	if cause := context.Cause(ctx); ctx.Err() != nil {
		return cause
	}
	if err := sc.Err(); err != nil && !errors.Is(err, stdio.ErrUnexpectedEOF) {
		return err
	}
	return errors.New("the node closed the change feed")
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
