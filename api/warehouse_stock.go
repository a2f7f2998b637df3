package api

import (
	"context"

	"connectrpc.com/connect"

	"branchline/access"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
	"branchline/warehouse"
)

func linesPB(ls []warehouse.Line) []*whv1.MoveLine {
	out := make([]*whv1.MoveLine, len(ls))
	for i, l := range ls {
		out[i] = &whv1.MoveLine{Product: l.Product, Bin: l.Bin, Batch: l.Batch, Qty: l.Qty, Bundle: l.Bundle}
	}
	return out
}

func movePB(m *warehouse.Move) *whv1.Move {
	return &whv1.Move{Id: m.ID, Warehouse: m.Warehouse, Direction: m.Direction, Type: m.Type, Lines: linesPB(m.Lines),
		PurchaseOrder: m.PurchaseOrder, Ref: m.Ref, Note: m.Note, Time: ts(m.At), Actor: m.Actor, Origin: m.Origin}
}

func receiptLines(in []*whv1.MoveLine) []warehouse.ReceiptLine {
	out := make([]warehouse.ReceiptLine, len(in))
	for i, l := range in {
		out[i] = warehouse.ReceiptLine{Product: l.GetProduct(), Bin: l.GetBin(), Batch: l.GetBatch(), Qty: l.GetQty(),
			Produced: timeOf(l.GetProduceTime()), Expires: timeOf(l.GetExpireTime())}
	}
	return out
}

func issueLines(in []*whv1.MoveLine) []warehouse.IssueLine {
	out := make([]warehouse.IssueLine, len(in))
	for i, l := range in {
		out[i] = warehouse.IssueLine{Product: l.GetProduct(), Bin: l.GetBin(), Batch: l.GetBatch(), Qty: l.GetQty()}
	}
	return out
}

// move records a move made by cmd under a new id and answers with it.
func (s *WarehouseService) move(ctx context.Context, cmd func(views replication.Tx, id string) (replication.Draft, error)) (*connect.Response[whv1.Move], error) {
	id := s.newID()
	return change(ctx, s, access.StockMove, single(func(views replication.Tx) (replication.Draft, error) { return cmd(views, id) }),
		warehouse.GetMove, id, movePB)
}

// Receive implements WarehouseService.Receive.
func (s *WarehouseService) Receive(ctx context.Context, req *connect.Request[whv1.ReceiveRequest]) (*connect.Response[whv1.Move], error) {
	m := req.Msg
	r := warehouse.Receipt{Warehouse: m.GetWarehouse(), Type: m.GetType(), Lines: receiptLines(m.GetLines()),
		PurchaseOrder: m.GetPurchaseOrder(), Ref: m.GetRef(), Note: m.GetNote()}
	return s.move(ctx, func(views replication.Tx, id string) (replication.Draft, error) {
		return warehouse.RecordReceipt(views, s.Node, id, r, s.now())
	})
}

// Issue implements WarehouseService.Issue.
func (s *WarehouseService) Issue(ctx context.Context, req *connect.Request[whv1.IssueRequest]) (*connect.Response[whv1.Move], error) {
	m := req.Msg
	is := warehouse.Issue{Warehouse: m.GetWarehouse(), Type: m.GetType(), Lines: issueLines(m.GetLines()), Ref: m.GetRef(), Note: m.GetNote()}
	return s.move(ctx, func(views replication.Tx, id string) (replication.Draft, error) {
		return warehouse.RecordIssue(views, s.Node, id, is, s.now())
	})
}

// MoveBin implements WarehouseService.MoveBin.
func (s *WarehouseService) MoveBin(ctx context.Context, req *connect.Request[whv1.MoveBinRequest]) (*connect.Response[whv1.Move], error) {
	bm := warehouse.BinMove{Warehouse: req.Msg.GetWarehouse(), Note: req.Msg.GetNote()}
	for _, l := range req.Msg.GetLines() {
		bm.Lines = append(bm.Lines, warehouse.BinMoveLine{Product: l.GetProduct(), From: l.GetBin(), To: l.GetToBin(), Batch: l.GetBatch(), Qty: l.GetQty()})
	}
	return s.move(ctx, func(views replication.Tx, id string) (replication.Draft, error) {
		return warehouse.RecordBinMove(views, s.Node, id, bm, s.now())
	})
}

// GetMove implements WarehouseService.GetMove.
func (s *WarehouseService) GetMove(ctx context.Context, req *connect.Request[whv1.GetMoveRequest]) (*connect.Response[whv1.Move], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.Move, error) {
		return pb(movePB)(warehouse.GetMove(views, req.Msg.GetId()))
	})
}

// ListMoves implements WarehouseService.ListMoves.
func (s *WarehouseService) ListMoves(ctx context.Context, req *connect.Request[whv1.ListMovesRequest]) (*connect.Response[whv1.ListMovesResponse], error) {
	m := req.Msg
	f := warehouse.MoveFilter{Warehouse: m.GetWarehouse(), Product: m.GetProduct(), Direction: m.GetDirection(), Type: m.GetType(),
		From: timeOf(m.GetStartTime()), To: timeOf(m.GetEndTime())}
	return readAs(ctx, s, func(views replication.Tx) (*whv1.ListMovesResponse, error) {
		ms, next, err := paged(m.GetPageSize(), 50, func(n int) ([]*warehouse.Move, string, error) {
			return warehouse.ListMoves(views, f, m.GetPageToken(), n)
		}, movePB)
		return &whv1.ListMovesResponse{Moves: ms, NextPageToken: next}, err
	})
}

func stockPB(st *warehouse.Stock) *whv1.Stock {
	out := &whv1.Stock{Warehouse: st.Warehouse, Product: st.Product, OnHand: st.OnHand, Good: st.Good, Reserved: st.Reserved,
		Safety: st.Safety, Available: st.Available, InTransit: st.InTransit}
	for _, l := range st.Lines {
		out.Lines = append(out.Lines, &whv1.StockLine{Bin: l.Bin, BinKind: l.BinKind, Batch: l.Batch, Qty: l.Qty,
			ProduceTime: ts(l.Produced), ReceiveTime: ts(l.Received), ExpireTime: ts(l.Expires)})
	}
	return out
}

// GetStock implements WarehouseService.GetStock.
func (s *WarehouseService) GetStock(ctx context.Context, req *connect.Request[whv1.GetStockRequest]) (*connect.Response[whv1.GetStockResponse], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.GetStockResponse, error) {
		var sts []*warehouse.Stock
		if wh := req.Msg.GetWarehouse(); wh != "" {
			st, err := warehouse.GetStock(views, wh, req.Msg.GetProduct())
			if err != nil {
				return nil, err
			}
			sts = append(sts, st)
		} else {
			var err error
			if sts, err = warehouse.ProductStock(views, req.Msg.GetProduct()); err != nil {
				return nil, err
			}
		}
		out := &whv1.GetStockResponse{}
		for _, st := range sts {
			out.Stocks = append(out.Stocks, stockPB(st))
		}
		return out, nil
	})
}

// ListStock implements WarehouseService.ListStock.
func (s *WarehouseService) ListStock(ctx context.Context, req *connect.Request[whv1.ListStockRequest]) (*connect.Response[whv1.ListStockResponse], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.ListStockResponse, error) {
		sts, next, err := paged(req.Msg.GetPageSize(), 100, func(n int) ([]*warehouse.Stock, string, error) {
			return warehouse.ListStock(views, req.Msg.GetWarehouse(), req.Msg.GetPageToken(), n)
		}, stockPB)
		return &whv1.ListStockResponse{Stocks: sts, NextPageToken: next}, err
	})
}

func stocktakePB(st *warehouse.Stocktake) *whv1.Stocktake {
	out := &whv1.Stocktake{Id: st.ID, Warehouse: st.Warehouse, Type: st.Type, Bin: st.Bin, Products: st.Products, Note: st.Note,
		Status: st.Status, OpenTime: ts(st.Opened), PostTime: ts(st.Posted), Conflicts: int32(st.Conflicts)}
	for _, l := range st.Lines {
		out.Lines = append(out.Lines, &whv1.StocktakeLine{Product: l.Product, Bin: l.Bin, Batch: l.Batch, Book: l.Book,
			Counted: l.Counted, Count: l.Count, Delta: l.Delta})
	}
	return out
}

// sheet runs a stock.move command on sheet id and answers with the sheet.
func (s *WarehouseService) sheet(ctx context.Context, id string, cmd func(views replication.Tx) (replication.Draft, error)) (*connect.Response[whv1.Stocktake], error) {
	return change(ctx, s, access.StockMove, single(cmd), warehouse.GetStocktake, id, stocktakePB)
}

// OpenStocktake implements WarehouseService.OpenStocktake.
func (s *WarehouseService) OpenStocktake(ctx context.Context, req *connect.Request[whv1.OpenStocktakeRequest]) (*connect.Response[whv1.Stocktake], error) {
	m := req.Msg
	spec := warehouse.StocktakeSpec{Warehouse: m.GetWarehouse(), Type: m.GetType(), Bin: m.GetBin(), Products: m.GetProducts(), Note: m.GetNote()}
	id := s.newID()
	return s.sheet(ctx, id, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.OpenStocktake(views, s.Node, id, spec, s.now())
	})
}

// RecordCount implements WarehouseService.RecordCount.
func (s *WarehouseService) RecordCount(ctx context.Context, req *connect.Request[whv1.RecordCountRequest]) (*connect.Response[whv1.Stocktake], error) {
	var counts []warehouse.Count
	for _, l := range req.Msg.GetLines() {
		counts = append(counts, warehouse.Count{Product: l.GetProduct(), Bin: l.GetBin(), Batch: l.GetBatch(), Qty: l.GetQty()})
	}
	return s.sheet(ctx, req.Msg.GetId(), func(views replication.Tx) (replication.Draft, error) {
		return warehouse.RecordCount(views, s.Node, req.Msg.GetId(), counts)
	})
}

// PostStocktake implements WarehouseService.PostStocktake.
func (s *WarehouseService) PostStocktake(ctx context.Context, req *connect.Request[whv1.PostStocktakeRequest]) (*connect.Response[whv1.Stocktake], error) {
	return s.sheet(ctx, req.Msg.GetId(), func(views replication.Tx) (replication.Draft, error) {
		return warehouse.PostStocktake(views, s.Node, req.Msg.GetId(), s.now())
	})
}

// CancelStocktake implements WarehouseService.CancelStocktake.
func (s *WarehouseService) CancelStocktake(ctx context.Context, req *connect.Request[whv1.CancelStocktakeRequest]) (*connect.Response[whv1.Stocktake], error) {
	return s.sheet(ctx, req.Msg.GetId(), func(views replication.Tx) (replication.Draft, error) {
		return warehouse.CancelStocktake(views, s.Node, req.Msg.GetId(), req.Msg.GetNote())
	})
}

// GetStocktake implements WarehouseService.GetStocktake.
func (s *WarehouseService) GetStocktake(ctx context.Context, req *connect.Request[whv1.GetStocktakeRequest]) (*connect.Response[whv1.Stocktake], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.Stocktake, error) {
		return pb(stocktakePB)(warehouse.GetStocktake(views, req.Msg.GetId()))
	})
}

// ListStocktakes implements WarehouseService.ListStocktakes.
func (s *WarehouseService) ListStocktakes(ctx context.Context, req *connect.Request[whv1.ListStocktakesRequest]) (*connect.Response[whv1.ListStocktakesResponse], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.ListStocktakesResponse, error) {
		sts, next, err := paged(req.Msg.GetPageSize(), 50, func(n int) ([]*warehouse.Stocktake, string, error) {
			return warehouse.ListStocktakes(views, req.Msg.GetWarehouse(), req.Msg.GetPageToken(), n)
		}, stocktakePB)
		return &whv1.ListStocktakesResponse{Stocktakes: sts, NextPageToken: next}, err
	})
}

func transferPB(t *warehouse.Transfer) *whv1.Transfer {
	out := &whv1.Transfer{Id: t.ID, From: t.From, To: t.To, Status: t.Status, Note: t.Note, ShipTime: ts(t.ShippedAt),
		ReceiveTime: ts(t.ReceivedAt), Shipped: linesPB(t.Shipped), Received: linesPB(t.Received), Discrepancy: t.Discrepancy}
	for _, l := range t.Lines {
		out.Lines = append(out.Lines, &whv1.TransferLine{Product: l.Product, Batch: l.Batch, Shipped: l.Shipped, Received: l.Received,
			Damaged: l.Damaged, Difference: l.Difference})
	}
	return out
}

// transfer runs a stock.move command on transfer id and answers with it.
func (s *WarehouseService) transfer(ctx context.Context, id string, cmd func(views replication.Tx) (replication.Draft, error)) (*connect.Response[whv1.Transfer], error) {
	return change(ctx, s, access.StockMove, single(cmd), warehouse.GetTransfer, id, transferPB)
}

// ShipTransfer implements WarehouseService.ShipTransfer.
func (s *WarehouseService) ShipTransfer(ctx context.Context, req *connect.Request[whv1.ShipTransferRequest]) (*connect.Response[whv1.Transfer], error) {
	m := req.Msg
	spec := warehouse.TransferSpec{From: m.GetFrom(), To: m.GetTo(), Bin: m.GetBin(), Lines: issueLines(m.GetLines()), Note: m.GetNote()}
	id := s.newID()
	return s.transfer(ctx, id, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.ShipTransfer(views, s.Node, id, spec, s.now())
	})
}

// ReceiveTransfer implements WarehouseService.ReceiveTransfer.
func (s *WarehouseService) ReceiveTransfer(ctx context.Context, req *connect.Request[whv1.ReceiveTransferRequest]) (*connect.Response[whv1.Transfer], error) {
	m := req.Msg
	r := warehouse.TransferReceipt{From: m.GetFrom(), To: m.GetTo(), Bin: m.GetBin(), Lines: receiptLines(m.GetLines()), Note: m.GetNote()}
	return s.transfer(ctx, m.GetId(), func(views replication.Tx) (replication.Draft, error) {
		return warehouse.ReceiveTransfer(views, s.Node, m.GetId(), r, s.now())
	})
}

// GetTransfer implements WarehouseService.GetTransfer.
func (s *WarehouseService) GetTransfer(ctx context.Context, req *connect.Request[whv1.GetTransferRequest]) (*connect.Response[whv1.Transfer], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.Transfer, error) {
		return pb(transferPB)(warehouse.GetTransfer(views, req.Msg.GetId()))
	})
}

// ListTransfers implements WarehouseService.ListTransfers.
func (s *WarehouseService) ListTransfers(ctx context.Context, req *connect.Request[whv1.ListTransfersRequest]) (*connect.Response[whv1.ListTransfersResponse], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.ListTransfersResponse, error) {
		trs, next, err := paged(req.Msg.GetPageSize(), 50, func(n int) ([]*warehouse.Transfer, string, error) {
			return warehouse.ListTransfers(views, req.Msg.GetWarehouse(), req.Msg.GetPageToken(), n)
		}, transferPB)
		return &whv1.ListTransfersResponse{Transfers: trs, NextPageToken: next}, err
	})
}
