//! [`Inbound`]: a consumed message, owned by wiredesk, with its headers read as bytes.
//!
//! rdkafka's header iterator turns each header *key* into `&str` with an `unwrap`, so one message
//! whose header key is not UTF-8 (`kcat -H $'\xff\xfe=v'`) would panic the consume loop, and every
//! replica that picks the partition up would crash in turn. Headers are therefore read here, once,
//! through librdkafka's C API, as raw bytes; code that needs text uses a lossy conversion.

use std::ffi::CStr;

use rdkafka::Message;
use rdkafka::bindings as rdsys;
use rdkafka::message::BorrowedMessage;

/// Everything the worker needs from a consumed message; it outlives the consumer's buffer.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    /// `None` for a tombstone.
    pub payload: Option<Vec<u8>>,
    /// Producer or log-append time, Unix ms.
    pub timestamp_ms: Option<i64>,
    /// Header keys and values exactly as sent (a null value reads as empty).
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Inbound {
    pub fn from_borrowed(message: &BorrowedMessage<'_>) -> Self {
        Inbound {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            timestamp_ms: message.timestamp().to_millis(),
            headers: raw_headers(message),
        }
    }

    /// Bytes this message holds in memory: counted against `processing.max_in_flight_bytes`.
    pub fn size(&self) -> usize {
        self.key.as_ref().map_or(0, Vec::len)
            + self.payload.as_ref().map_or(0, Vec::len)
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
            + self.topic.len()
    }

    /// Headers with keys as text (lossy: an invalid byte becomes U+FFFD), for the producer API,
    /// which only takes `&str` keys.
    pub fn headers_lossy(&self) -> Vec<(String, Vec<u8>)> {
        self.headers
            .iter()
            .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), v.clone()))
            .collect()
    }
}

/// Read every header of `message` as bytes, without rdkafka's UTF-8 `unwrap`.
fn raw_headers(message: &BorrowedMessage<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    // SAFETY: `message.ptr()` is a live `rd_kafka_message_t` for the lifetime of the borrow.
    // `rd_kafka_message_headers` returns a pointer owned by the message (not to be freed), valid
    // while the message is. For each index below the count, `rd_kafka_header_get_all` yields a
    // NUL-terminated name and a value pointer + size owned by that header list; both are copied
    // before the borrow ends. A null value pointer is a null header value.
    unsafe {
        let mut headers: *mut rdsys::rd_kafka_headers_t = std::ptr::null_mut();
        let err = rdsys::rd_kafka_message_headers(message.ptr(), &mut headers);
        if err != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || headers.is_null() {
            return out;
        }
        let count = rdsys::rd_kafka_header_cnt(headers);
        out.reserve(count.min(1024));
        for idx in 0..count {
            let mut name: *const std::os::raw::c_char = std::ptr::null();
            let mut value: *const std::os::raw::c_void = std::ptr::null();
            let mut size: usize = 0;
            let err =
                rdsys::rd_kafka_header_get_all(headers, idx, &mut name, &mut value, &mut size);
            if err != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || name.is_null() {
                continue;
            }
            let key = CStr::from_ptr(name).to_bytes().to_vec();
            let value = if value.is_null() || size == 0 {
                Vec::new()
            } else {
                std::slice::from_raw_parts(value.cast::<u8>(), size).to_vec()
            };
            out.push((key, value));
        }
    }
    out
}
