package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/lienthong/lienthong/node/backup"
)

func init() {
	register(&command{name: "backup create", args: "DIR", short: "back up a running node into DIR on its machine (online; MANIFEST.json with checksums)", run: runBackupCreate})
	register(&command{name: "backup verify", args: "DIR", short: "check a backup's files against its MANIFEST.json; exit 1 naming each damaged file", run: runBackupVerify})
	register(&command{name: "backup restore", args: "BACKUP --dir NEWDIR", short: "check a backup and lay it out as a node directory to start", run: runBackupRestore})
}

func runBackupCreate(ctx context.Context, io *IO, args []string) error {
	var cf clientFlags
	fs := newFlags(io, "backup create", "DIR")
	cf.register(fs)
	pos, err := parseFlags(fs, args, 1, 1)
	if err != nil {
		return err
	}
	dir := pos[0]
	if cf.dir != "" {
		// The node runs on this machine: a relative DIR is relative here.
		if dir, err = filepath.Abs(dir); err != nil {
			return err
		}
	} else if !filepath.IsAbs(dir) {
		return usagef("DIR %q must be an absolute path on the node's machine (or give --dir of a local node)", dir)
	}
	c, err := cf.client(io)
	if err != nil {
		return err
	}
	var m backup.Manifest
	if err := c.do(ctx, "POST", "/v1/backup", map[string]string{"dir": dir}, &m); err != nil {
		return err
	}
	if cf.json {
		return printJSON(io.Out, m)
	}
	fmt.Fprintf(io.Out, "backup of %s written to %s: %s, %s at metadata index %d\n", m.Name, dir, summary(&m), m.CreatedAt.Format("2006-01-02T15:04:05Z"), m.MetaIndex)
	return nil
}

func runBackupVerify(ctx context.Context, io *IO, args []string) error {
	fs := newFlags(io, "backup verify", "DIR [--json]")
	asJSON := fs.Bool("json", false, "print the manifest as JSON")
	pos, err := parseFlags(fs, args, 1, 1)
	if err != nil {
		return err
	}
	m, err := backup.Verify(pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(io.Out, m)
	}
	fmt.Fprintf(io.Out, "backup of %s (%s) from %s matches its manifest: %s\n", m.Name, m.PeerID, m.CreatedAt.Format("2006-01-02T15:04:05Z"), summary(m))
	return nil
}

func runBackupRestore(ctx context.Context, io *IO, args []string) error {
	fs := newFlags(io, "backup restore", "BACKUP --dir NEWDIR [--json]")
	dir := fs.String("dir", "", "the new node directory (must not exist, or be empty)")
	asJSON := fs.Bool("json", false, "print the manifest as JSON")
	pos, err := parseFlags(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if *dir == "" {
		return usagef("--dir NEWDIR is required")
	}
	m, err := backup.Restore(pos[0], *dir)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(io.Out, m)
	}
	fmt.Fprintf(io.Out, "restored the backup of %s from %s into %s (%s).\n"+
		"Stop the node it replaces for good, then: lienthong start --dir %s\n"+
		"An owner gets back from its readers the ops it wrote after the backup before it writes again.\n",
		m.Name, m.CreatedAt.Format("2006-01-02T15:04:05Z"), *dir, summary(m), *dir)
	return nil
}

// summary says how much a backup holds.
func summary(m *backup.Manifest) string {
	var bytes int64
	for _, f := range m.Files {
		bytes += f.Size
	}
	var ops uint64
	for _, h := range m.Heads {
		ops += h.Seq
	}
	return fmt.Sprintf("%d files, %d bytes, %d streams up to %d ops in all", len(m.Files), bytes, len(m.Heads), ops)
}
