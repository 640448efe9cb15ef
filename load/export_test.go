package load

// For the external tests (load_test), which may use labtest: it imports this package.
var (
	Confirm       = confirm
	PrepareSchema = prepareSchema
	InsertSQL     = insertSQL
)
