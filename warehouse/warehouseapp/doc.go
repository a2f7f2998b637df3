// Package warehouseapp holds the use cases of stock (进销存, package
// warehouse): products, warehouses and bins, limits and alerts, physical
// moves, stocktakes, transfers, reservations against the escrow, purchase
// orders and shipping notices. The API's WarehouseService and the stock
// pages are thin translations on top.
//
// Commands run as the node: physical moves, stocktakes and transfer ends
// of a warehouse are accepted only at its owner node, reservations
// against this node's escrow share. Reads need access.StockRead;
// products, warehouses, bins, limits, sellers and purchase orders
// access.StockAdmin; physical moves, stocktakes and transfers
// access.StockMove; reservations, shipping and notices access.StockReserve.
package warehouseapp
