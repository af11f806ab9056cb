pub type ErrorCapture =
    polars_utils::async_utils::error_capture::ErrorCapture<polars_error::PolarsError>;
pub type ErrorHandle =
    polars_utils::async_utils::error_capture::ErrorHandle<polars_error::PolarsError>;
