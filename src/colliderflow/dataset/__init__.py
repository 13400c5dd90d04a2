"""Event datasets: chunked Parquet files of elements, targets, truth and event information."""
