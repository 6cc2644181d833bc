package trainer

import (
	"context"

	"google.golang.org/grpc"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
)

// loadRecorder is inference's LoadAdapter as the trainer sees it.
type loadRecorder struct {
	inferencev1.InferenceServiceClient
	req *inferencev1.LoadAdapterRequest
}

func (l *loadRecorder) LoadAdapter(_ context.Context, r *inferencev1.LoadAdapterRequest, _ ...grpc.CallOption) (*inferencev1.LoadAdapterResponse, error) {
	l.req = r
	return &inferencev1.LoadAdapterResponse{Adapter: &inferencev1.Adapter{Name: r.Name, Path: r.Path}}, nil
}
