// Package warehouse is the stock domain of Branchline (进销存): products
// and bundles, warehouses and bins, batches, stock moves (receipts, issues,
// bin moves) with FIFO / FEFO batch picking, stocktakes, limits and
// alerts, reservations (available stock, 虚拟库存) with shipping, transfers
// between warehouses, escrow shares that let branches sell offline without
// overselling, purchase orders and shipping notices.
//
// Like every domain package it turns commands into events
// (replication.Draft) and events into views through replication.Tx only:
// it must not import Badger, Pebble, net/http, Connect or SIP packages and
// must not read the clock — commands take the time and new ids as
// arguments. The node runs the commands; node and hub apply the events.
//
// # Who writes what
//
// Only the node that owns a warehouse records its physical moves:
// receipts, issues, bin moves, stocktakes, both ends of transfers that
// touch it and the shipping of reservations. Commands take the node's id
// and refuse (fault.ErrDenied) elsewhere. So the owner's view of its own
// stock is exact: an issue is decided on exactly what is on hand, and no
// issue can drive a bin and batch negative. Reservations are the
// exception: any seller node may reserve against its escrow share.
//
// # Merge rules (ARCHITECTURE.md)
//
//   - Fields of products, warehouses, bins and limits: one last-writer-wins
//     register per field (rule 1). The barcode index is a function of the
//     products' barcode registers; when two products claim one barcode the
//     older claim wins the lookup and the other is listed as a conflict.
//   - Quantities: signed deltas summed into counters (rule 2) — stock per
//     (warehouse, product, bin, batch), totals per (warehouse, product),
//     in-transit per transfer, reserved, escrow pool and shares. No event
//     carries an absolute count; a stocktake posts counted − book-at-open.
//   - Sellers of a warehouse: an add-wins set (rule 3).
//   - Workflows (rule 4): each stock-changing event claims one entry of the
//     move history (a "record": the move's ULID, or the ULID of its
//     transfer, stocktake or reservation with ".out", ".in", ".post",
//     ".ship"). The first claim by stamp wins and only the winner's deltas
//     count: if an earlier claim arrives later, the displaced record's
//     deltas are taken back. Commands never make two claims (the owner node
//     refuses a second post, ship or receive), so this only decides races
//     such as an ownership change, but it makes every replica agree on
//     which deltas count whatever the arrival order. A stocktake posted
//     twice keeps the later post as a conflict.
//   - A reservation's state is decided by its facts: made, released,
//     shipped. Its contribution to the reserved counters and to its node's
//     escrow share is a function of the facts seen, applied as the
//     difference when a fact arrives, so any arrival order gives the same
//     counters. Every transition is made by the reservation's holder — the
//     node that made it, until a shipping notice hands it to the
//     warehouse's owner — so a release and a shipment never race.
//
// # Escrow
//
// For each (warehouse, product) with sellers, the quantity branches may
// promise is held in balances: the hub's pool and one share per node.
// Every event that debits a balance is written by its holder only — the
// owner releases its free stock into the pool (Offer), the hub grants from
// the pool and reclaims to the owner (Rebalance, run in the hub's Raft
// state machine), a node returns its surplus to the pool (Surplus) and
// reserves against its share (Reserve). Credits may arrive late but are
// never taken back, so no holder ever spends more than it was given,
// whatever the partitions: the reservations active or shipped never exceed
// what the owner released, which never exceeded its free stock.
//
// # Scopes (who needs which event)
//
// Every event names the scopes that need it (replication/scope.go), decided
// once where it is made by its kind's rule (scope.go). Two requirements
// decide the table: no branch holds the stock moves of a warehouse it does
// not own, and no decision at any node changes because it holds less —
// every command below reads, at the node that runs it, only events of
// scopes that node holds whole (TestScopedDecisions checks it).
//
//	kind                      scopes (home first)   why
//	product.set               company               every seller reserves, expands bundles, prices
//	warehouse.set             company               its owner field decides who holds w:X; every
//	                                                node reads owner and sellers to reserve
//	bin.set                   company               configuration; SetBin reads a bin's kind to
//	                                                keep it, wherever an administrator edits it
//	seller.added/removed      company               Reserve at every node reads whether X has
//	                                                sellers; the hub serves e:X by them
//	limit.set                 company               SetLimit checks min ≤ max against the limits
//	                                                it reads, wherever it runs; few and small
//	stock.moved               w:X                   physical moves: the owner's alone
//	stocktake.*               w:X                   only the owner counts; counted and cancelled
//	                                                read X from the sheet
//	transfer.shipped          w:From, w:To          the receiver receives what was shipped
//	transfer.received         w:To, w:From          the shipper sees the transfer arrive
//	reservation.made          w:X, b:maker [, e:X]  the owner ships it and counts it reserved;
//	                                                its maker holds it; with escrow it debits
//	                                                the maker's share, which every seller's
//	                                                Surplus splits (e:X)
//	reservation.released      as its made           by its holder (maker, or the owner after a
//	                                                notice): the maker's share is credited back
//	reservation.shipped       w:X                   an issue of X's stock; its maker does not
//	                                                need it (it no longer holds the reservation,
//	                                                and shipping does not move its share)
//	notice.created            w:X, b:maker          hands its reservations to the owner
//	notice.confirmed          w:X, b:maker          tells the maker its notice shipped
//	po.created                w:X, b:maker          the owner receives against it; head office
//	po.closed                 w:X, b:maker          made it and follows it
//	escrow.released           e:X, w:X              the owner's free stock backs it; sellers
//	escrow.target             e:X, w:X              split the pool and shares (Surplus' fair
//	                                                share), so they hold the whole escrow
//	escrow.granted            e:X, w:X, b:node      as above, and the node whose share grows
//	escrow.returned           e:X, w:X, b:node      … and the node whose share shrinks
//	escrow.reclaimed          e:X, w:X [, b:node]   … and a node whose release the hub refused
//
// "maker" is the origin of the record's first event, read from the views
// by the later events' rules; the hub is no branch and adds no b: scope.
// OwnedScopes and SellerScopes list the w: and e: scopes a node holds.
//
// What a node no longer holds: the stock, moves, stocktakes and alerts of
// the warehouses it does not own (a transfer leaves the other end's half
// of it at each owner), the other branches' reservations and notices, and
// the received quantities of purchase orders it made for another
// warehouse. A seller holds the escrow of what it sells exactly (pool,
// every share, targets); its Backing counts no shipments and its Free is
// not the owner's. Its own reservations shipped through a notice stay
// active in its views, their notice confirmed. Batch dates become, in
// effect, per warehouse: each owner keeps the first dates it received a
// batch with (a transfer carries them). Head office sees everything at
// the hub.
package warehouse
