// Package bench measures Branchline's replication path with its real
// parts on one machine: a three-member hub (hashicorp/raft over TCP with
// fsynced raft-wal logs, Pebble state machines) in this process, nodes
// pushing and pulling over Connect RPC on h2c, and Badger node stores in a
// temporary directory. It also runs, when it is installed, a three-member
// etcd cluster as a yardstick for the same durable-replicated-write work.
//
// Every measurement talks to 127.0.0.1 only, is bounded in time or count,
// and removes the processes and files it made. cmd/branchline's "bench"
// subcommand only parses flags and calls Run.
//
// bench may depend on every other package; nothing may depend on it.
package bench
