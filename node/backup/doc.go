// Package backup writes, checks and restores a node's backup: a directory
// holding a checkpoint of the store, the node's own files (configuration,
// identity, admin token, Raft snapshots) and MANIFEST.json, which lists every
// file with its size and SHA-256 and says whose backup it is and what it
// holds. docs/operations.md, "Back up a node's data", is its runbook.
//
// backup imports storage and nothing else from lienthong; the node package
// calls it with its store and the names of its files.
package backup
