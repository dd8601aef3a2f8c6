// Package bench holds the measurements behind lienthong bench: durable
// writes next to raw Pebble (Write), replication between two nodes next to a
// raw libp2p stream (Replicate; at several counts, the curve as the store
// grows: ReplicateCounts), the lag at fixed offered loads (Load), PostgreSQL logical replication and NATS
// JetStream on the same records (Peers, with the set-up scripts *.sh of
// this directory), healing after a partition (Heal), a new reader catching
// up (Join), a node process's memory (Memory) and the report of them all
// (All). Each returns its figures, which print as a table (Print) or JSON.
//
// The commands and their flags are in the cli package; bench must not
// import it. Memory runs the lienthong binary it is given.
package bench
