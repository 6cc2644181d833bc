module github.com/pdfqa/pdfqa/services/trainer

go 1.26.8
