package sim

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// WriteFiles writes report.json and report.html into dir, creating it.
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "report.html"))
	if err != nil {
		return err
	}
	if err := r.WriteHTML(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteSummary prints what a person reads first: the outcome, convergence,
// traffic and every invariant.
func (r *Report) WriteSummary(w io.Writer) {
	verdict := "PASS"
	if !r.OK() {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s  scenario %s, seed %d, topology %s (%d nodes)\n", verdict, r.Scenario, r.Seed, r.Topology, r.Nodes)
	fmt.Fprintf(w, "  simulated %s in %.1f s of wall time: %d events (%.0f per second)\n",
		fmtSeconds(r.SimSeconds), r.WallSeconds, r.Stats.Events, r.EventsPerS)
	if r.ConvergedAfter >= 0 {
		fmt.Fprintf(w, "  convergence after a heal: at most %s\n", fmtSeconds(r.ConvergedAfter))
	} else {
		fmt.Fprintf(w, "  convergence after a heal: NEVER (within the quiet period)\n")
	}
	st := r.Stats
	fmt.Fprintf(w, "  ops: %d writes acknowledged, %d refused; %d pulls (%d failed), %d ops applied at replicas\n",
		st.Writes, st.Refused, st.Pulls, st.PullErrors, st.Applied)
	fmt.Fprintf(w, "  faults: %d crashes (%d before a sync of replicated ops), %d messages lost, %d answers duplicated\n",
		st.Crashes, st.CrashesUnsynced, st.Lost, st.Duplicated)
	names := make([]string, 0, len(r.BytesPerNode))
	for n := range r.BytesPerNode {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return int(r.BytesPerNode[b] - r.BytesPerNode[a]) })
	var top []string
	for _, n := range names[:min(5, len(names))] {
		top = append(top, fmt.Sprintf("%s %s", n, fmtBytes(r.BytesPerNode[n])))
	}
	fmt.Fprintf(w, "  bytes on the wire: %s in all; busiest nodes (sent+received): %s\n", fmtBytes(st.Bytes), strings.Join(top, ", "))
	for _, inv := range r.Invariants {
		mark := "ok  "
		if !inv.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %-22s %s\n", mark, inv.Name, inv.Detail)
		for _, e := range inv.Errors {
			fmt.Fprintf(w, "         %s\n", e)
		}
	}
	fmt.Fprintf(w, "  trace %s\n", r.TraceHash[:16])
	if r.Replay != "" {
		fmt.Fprintf(w, "  replay: %s\n", r.Replay)
	}
}

func fmtSeconds(s float64) string {
	switch {
	case s >= 3600:
		return fmt.Sprintf("%.1f h", s/3600)
	case s >= 60:
		return fmt.Sprintf("%.1f min", s/60)
	}
	return fmt.Sprintf("%.1f s", s)
}

func fmtBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// polyline returns SVG points for ys against xs scaled into w×h.
func polyline(xs, ys []float64, w, h float64) string {
	if len(xs) == 0 {
		return ""
	}
	maxX, maxY := slices.Max(xs), slices.Max(ys)
	if maxX == 0 {
		maxX = 1
	}
	if maxY == 0 {
		maxY = 1
	}
	var b strings.Builder
	for i := range xs {
		fmt.Fprintf(&b, "%.1f,%.1f ", xs[i]/maxX*w, h-ys[i]/maxY*h)
	}
	return b.String()
}

type chart struct {
	Title, Points, YMax, XMax string
}

// WriteHTML writes a self-contained page: the summary, the invariants and
// plots of replication lag and convergence over simulated time.
func (r *Report) WriteHTML(w io.Writer) error {
	var xs, lag, caught []float64
	for _, s := range r.Series {
		xs = append(xs, s.T/3600)
		lag = append(lag, float64(s.LagOps))
		caught = append(caught, s.CaughtUp*100)
	}
	var sum strings.Builder
	r.WriteSummary(&sum)
	maxOf := func(v []float64) string {
		if len(v) == 0 {
			return "0"
		}
		return fmt.Sprintf("%.0f", slices.Max(v))
	}
	data := map[string]any{
		"R": r, "Summary": sum.String(),
		"Charts": []chart{
			{"Replication lag: ops the authorised replicas lack, summed", polyline(xs, lag, 800, 200), maxOf(lag), maxOf(xs)},
			{"Converged: % of (dataset, replica) pairs lacking nothing", polyline(xs, caught, 800, 200), "100", maxOf(xs)},
		},
	}
	return reportPage.Execute(w, data)
}

var reportPage = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lienthong sim: {{.R.Scenario}} seed {{.R.Seed}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;color:#222}
pre{background:#f6f6f6;padding:1em;overflow-x:auto}svg{background:#fbfbfb;border:1px solid #ddd}
.ok{color:#186a18}.fail{color:#b00;font-weight:bold}td,th{padding:.2em .6em;text-align:left;vertical-align:top}</style></head>
<body><h1>{{.R.Scenario}} <small>seed {{.R.Seed}}</small></h1>
<p>{{.R.Description}}</p>
<pre>{{.Summary}}</pre>
<h2>Invariants</h2><table>{{range .R.Invariants}}<tr><td class="{{if .OK}}ok{{else}}fail{{end}}">{{if .OK}}ok{{else}}FAIL{{end}}</td>
<td>{{.Name}}</td><td>{{.Detail}}{{range .Errors}}<br>{{.}}{{end}}</td></tr>{{end}}</table>
{{range .Charts}}<h2>{{.Title}}</h2>
<svg width="860" height="240" viewBox="-50 -10 860 240"><text x="-45" y="5" font-size="11">{{.YMax}}</text>
<text x="-45" y="200" font-size="11">0</text><text x="0" y="222" font-size="11">0 h</text>
<text x="770" y="222" font-size="11">{{.XMax}} h</text>
<line x1="0" y1="200" x2="800" y2="200" stroke="#999"/><line x1="0" y1="0" x2="0" y2="200" stroke="#999"/>
<polyline fill="none" stroke="#1f5fa8" stroke-width="1.5" points="{{.Points}}"/></svg>{{end}}
<h2>Digests at the owners</h2><table>{{range $k, $v := .R.Digests}}<tr><td>{{$k}}</td><td><code>{{$v}}</code></td></tr>{{end}}</table>
</body></html>
`))
