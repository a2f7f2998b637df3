package api

import (
	"context"

	"connectrpc.com/connect"

	"branchline/app"
	whv1 "branchline/gen/branchline/warehouse/v1"
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

func stockPB(st *warehouse.Stock) *whv1.Stock {
	out := &whv1.Stock{Warehouse: st.Warehouse, Product: st.Product, OnHand: st.OnHand, Good: st.Good, Reserved: st.Reserved,
		Safety: st.Safety, Available: st.Available, InTransit: st.InTransit}
	for _, l := range st.Lines {
		out.Lines = append(out.Lines, &whv1.StockLine{Bin: l.Bin, BinKind: l.BinKind, Batch: l.Batch, Qty: l.Qty,
			ProduceTime: ts(l.Produced), ReceiveTime: ts(l.Received), ExpireTime: ts(l.Expires)})
	}
	return out
}

func stocktakePB(st *warehouse.Stocktake) *whv1.Stocktake {
	out := &whv1.Stocktake{Id: st.ID, Warehouse: st.Warehouse, Type: st.Type, Bin: st.Bin, Products: st.Products, Note: st.Note,
		Status: st.Status, OpenTime: ts(st.Opened), PostTime: ts(st.Posted), Conflicts: int32(st.Conflicts), Blind: st.Blind}
	hide := st.Blind && st.Status == warehouse.StocktakeOpen // what the counter must not be led by
	for _, l := range st.Lines {
		line := &whv1.StocktakeLine{Product: l.Product, Bin: l.Bin, Batch: l.Batch, Book: l.Book,
			Counted: l.Counted, Count: l.Count, Delta: l.Delta}
		if hide {
			line.Book, line.Delta = 0, 0
		}
		out.Lines = append(out.Lines, line)
	}
	return out
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

// Receive implements WarehouseService.Receive.
func (s *WarehouseService) Receive(ctx context.Context, req *connect.Request[whv1.ReceiveRequest]) (*connect.Response[whv1.Move], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ReceiveRequest) (*whv1.Move, error) {
		return pb(movePB)(s.App.Receive(ctx, c, warehouse.Receipt{Warehouse: m.GetWarehouse(), Type: m.GetType(), Lines: receiptLines(m.GetLines()),
			PurchaseOrder: m.GetPurchaseOrder(), Ref: m.GetRef(), Note: m.GetNote()}))
	})
}

// Issue implements WarehouseService.Issue.
func (s *WarehouseService) Issue(ctx context.Context, req *connect.Request[whv1.IssueRequest]) (*connect.Response[whv1.Move], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.IssueRequest) (*whv1.Move, error) {
		return pb(movePB)(s.App.Issue(ctx, c, warehouse.Issue{Warehouse: m.GetWarehouse(), Type: m.GetType(), Lines: issueLines(m.GetLines()),
			Ref: m.GetRef(), Note: m.GetNote()}))
	})
}

// MoveBin implements WarehouseService.MoveBin.
func (s *WarehouseService) MoveBin(ctx context.Context, req *connect.Request[whv1.MoveBinRequest]) (*connect.Response[whv1.Move], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.MoveBinRequest) (*whv1.Move, error) {
		bm := warehouse.BinMove{Warehouse: m.GetWarehouse(), Note: m.GetNote()}
		for _, l := range m.GetLines() {
			bm.Lines = append(bm.Lines, warehouse.BinMoveLine{Product: l.GetProduct(), From: l.GetBin(), To: l.GetToBin(), Batch: l.GetBatch(), Qty: l.GetQty()})
		}
		return pb(movePB)(s.App.MoveBin(ctx, c, bm))
	})
}

// GetMove implements WarehouseService.GetMove.
func (s *WarehouseService) GetMove(ctx context.Context, req *connect.Request[whv1.GetMoveRequest]) (*connect.Response[whv1.Move], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.GetMoveRequest) (*whv1.Move, error) {
		return pb(movePB)(s.App.Move(ctx, c, m.GetId()))
	})
}

// ListMoves implements WarehouseService.ListMoves.
func (s *WarehouseService) ListMoves(ctx context.Context, req *connect.Request[whv1.ListMovesRequest]) (*connect.Response[whv1.ListMovesResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ListMovesRequest) (*whv1.ListMovesResponse, error) {
		f := warehouse.MoveFilter{Warehouse: m.GetWarehouse(), Product: m.GetProduct(), Direction: m.GetDirection(), Type: m.GetType(),
			From: timeOf(m.GetStartTime()), To: timeOf(m.GetEndTime())}
		return pb(func(p app.Page[*warehouse.Move]) *whv1.ListMovesResponse {
			return &whv1.ListMovesResponse{Moves: each(p.Items, movePB), NextPageToken: p.Next}
		})(s.App.Moves(ctx, c, f, int(m.GetPageSize()), m.GetPageToken()))
	})
}

// GetStock implements WarehouseService.GetStock.
func (s *WarehouseService) GetStock(ctx context.Context, req *connect.Request[whv1.GetStockRequest]) (*connect.Response[whv1.GetStockResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.GetStockRequest) (*whv1.GetStockResponse, error) {
		return pb(func(sts []*warehouse.Stock) *whv1.GetStockResponse {
			return &whv1.GetStockResponse{Stocks: each(sts, stockPB)}
		})(s.App.ProductStock(ctx, c, m.GetWarehouse(), m.GetProduct()))
	})
}

// ListStock implements WarehouseService.ListStock.
func (s *WarehouseService) ListStock(ctx context.Context, req *connect.Request[whv1.ListStockRequest]) (*connect.Response[whv1.ListStockResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ListStockRequest) (*whv1.ListStockResponse, error) {
		return pb(func(p app.Page[*warehouse.Stock]) *whv1.ListStockResponse {
			return &whv1.ListStockResponse{Stocks: each(p.Items, stockPB), NextPageToken: p.Next}
		})(s.App.Levels(ctx, c, m.GetWarehouse(), int(m.GetPageSize()), m.GetPageToken()))
	})
}

// OpenStocktake implements WarehouseService.OpenStocktake.
func (s *WarehouseService) OpenStocktake(ctx context.Context, req *connect.Request[whv1.OpenStocktakeRequest]) (*connect.Response[whv1.Stocktake], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.OpenStocktakeRequest) (*whv1.Stocktake, error) {
		return pb(stocktakePB)(s.App.OpenStocktake(ctx, c, warehouse.StocktakeSpec{Warehouse: m.GetWarehouse(), Type: m.GetType(),
			Bin: m.GetBin(), Products: m.GetProducts(), Note: m.GetNote(), Blind: m.GetBlind()}))
	})
}

// RecordCount implements WarehouseService.RecordCount.
func (s *WarehouseService) RecordCount(ctx context.Context, req *connect.Request[whv1.RecordCountRequest]) (*connect.Response[whv1.Stocktake], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.RecordCountRequest) (*whv1.Stocktake, error) {
		var counts []warehouse.Count
		for _, l := range m.GetLines() {
			counts = append(counts, warehouse.Count{Product: l.GetProduct(), Bin: l.GetBin(), Batch: l.GetBatch(), Qty: l.GetQty()})
		}
		return pb(stocktakePB)(s.App.RecordCount(ctx, c, m.GetId(), counts))
	})
}

// PostStocktake implements WarehouseService.PostStocktake.
func (s *WarehouseService) PostStocktake(ctx context.Context, req *connect.Request[whv1.PostStocktakeRequest]) (*connect.Response[whv1.Stocktake], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.PostStocktakeRequest) (*whv1.Stocktake, error) {
		return pb(stocktakePB)(s.App.PostStocktake(ctx, c, m.GetId()))
	})
}

// CancelStocktake implements WarehouseService.CancelStocktake.
func (s *WarehouseService) CancelStocktake(ctx context.Context, req *connect.Request[whv1.CancelStocktakeRequest]) (*connect.Response[whv1.Stocktake], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.CancelStocktakeRequest) (*whv1.Stocktake, error) {
		return pb(stocktakePB)(s.App.CancelStocktake(ctx, c, m.GetId(), m.GetNote()))
	})
}

// GetStocktake implements WarehouseService.GetStocktake.
func (s *WarehouseService) GetStocktake(ctx context.Context, req *connect.Request[whv1.GetStocktakeRequest]) (*connect.Response[whv1.Stocktake], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.GetStocktakeRequest) (*whv1.Stocktake, error) {
		return pb(stocktakePB)(s.App.Stocktake(ctx, c, m.GetId()))
	})
}

// ListStocktakes implements WarehouseService.ListStocktakes.
func (s *WarehouseService) ListStocktakes(ctx context.Context, req *connect.Request[whv1.ListStocktakesRequest]) (*connect.Response[whv1.ListStocktakesResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ListStocktakesRequest) (*whv1.ListStocktakesResponse, error) {
		return pb(func(p app.Page[*warehouse.Stocktake]) *whv1.ListStocktakesResponse {
			return &whv1.ListStocktakesResponse{Stocktakes: each(p.Items, stocktakePB), NextPageToken: p.Next}
		})(s.App.Stocktakes(ctx, c, m.GetWarehouse(), int(m.GetPageSize()), m.GetPageToken()))
	})
}

// ShipTransfer implements WarehouseService.ShipTransfer.
func (s *WarehouseService) ShipTransfer(ctx context.Context, req *connect.Request[whv1.ShipTransferRequest]) (*connect.Response[whv1.Transfer], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ShipTransferRequest) (*whv1.Transfer, error) {
		return pb(transferPB)(s.App.ShipTransfer(ctx, c, warehouse.TransferSpec{From: m.GetFrom(), To: m.GetTo(), Bin: m.GetBin(),
			Lines: issueLines(m.GetLines()), Note: m.GetNote()}))
	})
}

// ReceiveTransfer implements WarehouseService.ReceiveTransfer.
func (s *WarehouseService) ReceiveTransfer(ctx context.Context, req *connect.Request[whv1.ReceiveTransferRequest]) (*connect.Response[whv1.Transfer], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ReceiveTransferRequest) (*whv1.Transfer, error) {
		return pb(transferPB)(s.App.ReceiveTransfer(ctx, c, m.GetId(), warehouse.TransferReceipt{From: m.GetFrom(), To: m.GetTo(),
			Bin: m.GetBin(), Lines: receiptLines(m.GetLines()), Note: m.GetNote()}))
	})
}

// GetTransfer implements WarehouseService.GetTransfer.
func (s *WarehouseService) GetTransfer(ctx context.Context, req *connect.Request[whv1.GetTransferRequest]) (*connect.Response[whv1.Transfer], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.GetTransferRequest) (*whv1.Transfer, error) {
		return pb(transferPB)(s.App.Transfer(ctx, c, m.GetId()))
	})
}

// ListTransfers implements WarehouseService.ListTransfers.
func (s *WarehouseService) ListTransfers(ctx context.Context, req *connect.Request[whv1.ListTransfersRequest]) (*connect.Response[whv1.ListTransfersResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ListTransfersRequest) (*whv1.ListTransfersResponse, error) {
		return pb(func(p app.Page[*warehouse.Transfer]) *whv1.ListTransfersResponse {
			return &whv1.ListTransfersResponse{Transfers: each(p.Items, transferPB), NextPageToken: p.Next}
		})(s.App.Transfers(ctx, c, m.GetWarehouse(), int(m.GetPageSize()), m.GetPageToken()))
	})
}
