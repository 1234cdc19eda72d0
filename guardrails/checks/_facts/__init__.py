"""The known-facts and grounding checks' helpers: reading stated values out of text (`text`), indexing a facts
store for lookup (`index`), comparing stated and known values (`compare`) and building the repairs (`repair`)."""
