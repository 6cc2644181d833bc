module github.com/pdfqa/pdfqa/gen

go 1.26.8
