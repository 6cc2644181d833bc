module github.com/pdfqa/pdfqa/services/inference

go 1.26.8
