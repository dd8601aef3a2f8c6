package node

import (
	"context"

	"github.com/lienthong/lienthong/node/backup"
)

// Backup writes a backup of the running node into dest on its machine (an
// absolute path outside the node directory, new or empty): a checkpoint of
// the store, which holds the data, the Raft log and the saved metadata,
// then the configuration, identity, admin token and Raft snapshots, and
// MANIFEST.json. Writes go on meanwhile. Safe for concurrent use.
func (n *Node) Backup(ctx context.Context, dest string) (*backup.Manifest, error) {
	return backup.Create(ctx, backup.Source{
		Store: n.store, DataDir: DataDir, NodeDir: n.cfg.Dir,
		Files: []string{ConfigFile, IdentityFile, AdminTokenFile}, Dirs: []string{raftDir},
		Name: n.cfg.Name, PeerID: n.peerID, Version: Version, MetaIndex: n.meta.View().Index,
	}, dest)
}
