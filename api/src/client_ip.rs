//! Who is asking, for rate limits: behind a reverse proxy (TLS is always terminated by
//! one) the TCP peer is the proxy, and limiting it would lock everyone out at once. The
//! client is then the address the proxy appended to `X-Forwarded-For`, trusted only
//! when the peer is one of `MONOSTAT_TRUSTED_PROXIES` (default: loopback), so a client
//! cannot pick its own address by sending the header itself.

use std::convert::Infallible;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

/// An address range such as `10.0.0.0/8`, `fd00::/8` or a single address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, canonical(address)) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("{address} is not an IP address"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("/{prefix} is not a prefix length for {address}"))?,
        };
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Reads `MONOSTAT_TRUSTED_PROXIES`: comma-separated addresses or ranges.
pub fn parse_ranges(text: &str) -> Result<Vec<IpRange>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(str::parse)
        .collect()
}

/// Loopback: a proxy on the same host, the common single-server set-up.
pub fn default_trusted() -> Vec<IpRange> {
    ["127.0.0.0/8", "::1/128"]
        .iter()
        .filter_map(|range| range.parse().ok())
        .collect()
}

/// The client behind trusted proxies: walking `X-Forwarded-For` from the right (each
/// proxy appends), the first address that is not a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpRange]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.iter().any(|range| range.contains(peer)) {
        if headers.contains_key("x-forwarded-for") {
            warn_untrusted_forwarding(peer);
        }
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|part| part.trim().parse::<IpAddr>().ok())
        .map(canonical)
        .collect::<Vec<_>>();
    forwarded
        .iter()
        .rev()
        .find(|address| !trusted.iter().any(|range| range.contains(**address)))
        .copied()
        .or_else(|| forwarded.first().copied())
        .unwrap_or(peer)
}

/// A proxy the operator forgot to trust makes every visitor one address to the rate
/// limits; said once, since every request would repeat it.
fn warn_untrusted_forwarding(peer: IpAddr) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    warn_once(&WARNED, peer);
}

fn warn_once(warned: &AtomicBool, peer: IpAddr) {
    if !warned.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            %peer,
            "a request from a peer outside MONOSTAT_TRUSTED_PROXIES carries X-Forwarded-For; \
             it is ignored. If this peer is your reverse proxy, add it to MONOSTAT_TRUSTED_PROXIES"
        );
    }
}

/// The proxies whose `X-Forwarded-For` is believed, as router state.
#[derive(Clone, Debug)]
pub struct TrustedProxies(pub Arc<Vec<IpRange>>);

/// The client of a request, read through [`TrustedProxies`].
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub IpAddr);

impl<S> FromRequestParts<S> for ClientIp
where
    S: Send + Sync,
    TrustedProxies: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let trusted = TrustedProxies::from_ref(state);
        // Served without connection info (never by `monostat serve`): every request
        // counts as one client, which errs on the side of limiting.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        Ok(Self(client_ip(peer, &parts.headers, &trusted.0)))
    }
}

/// The key a rate limit counts by: one per IPv4 address, one per IPv6 /64 (what one
/// customer line gets; counting single IPv6 addresses would let anyone rotate).
pub fn limit_key(address: IpAddr) -> String {
    match canonical(address) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & (u128::MAX << 64);
            format!("{}/64", std::net::Ipv6Addr::from(network))
        }
    }
}

/// IPv4 clients of a dual-stack socket arrive as `::ffff:a.b.c.d`.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        IpAddr::V4(_) => address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", forwarded.parse().unwrap());
        headers
    }

    #[test]
    fn ranges_parse_and_match() {
        let ranges = parse_ranges("10.0.0.0/8, 192.168.1.7 ,fd00::/8").unwrap();
        assert!(ranges[0].contains("10.200.3.4".parse().unwrap()));
        assert!(!ranges[0].contains("11.0.0.1".parse().unwrap()));
        assert!(ranges[1].contains("192.168.1.7".parse().unwrap()));
        assert!(!ranges[1].contains("192.168.1.8".parse().unwrap()));
        assert!(ranges[2].contains("fd12::1".parse().unwrap()));
        assert!(
            ranges[0].contains("::ffff:10.1.1.1".parse().unwrap()),
            "mapped IPv4"
        );
        assert!(parse_ranges("10.0.0.0/33").is_err());
        assert!(parse_ranges("proxy.local").is_err());
        assert_eq!(parse_ranges("").unwrap(), vec![]);
    }

    /// Collects the warnings logged while it is the thread's subscriber.
    #[derive(Clone, Default)]
    struct Warnings(Arc<std::sync::Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warnings {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            struct Text(String);
            impl tracing::field::Visit for Text {
                fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
                    use std::fmt::Write as _;
                    let _ = write!(self.0, "{}={value:?} ", field.name());
                }
            }
            if *event.metadata().level() == tracing::Level::WARN {
                let mut text = Text(String::new());
                event.record(&mut text);
                self.0.lock().unwrap().push(text.0);
            }
        }
    }

    #[test]
    fn a_forwarded_header_from_an_untrusted_peer_is_warned_about_once() {
        use tracing_subscriber::layer::SubscriberExt;
        let warnings = Warnings::default();
        let subscriber = tracing_subscriber::registry().with(warnings.clone());
        let warned = AtomicBool::new(false);
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        tracing::subscriber::with_default(subscriber, || {
            warn_once(&warned, peer);
            warn_once(&warned, peer);
        });
        let logged = warnings.0.lock().unwrap().clone();
        assert_eq!(logged.len(), 1, "{logged:?}");
        assert!(logged[0].contains("203.0.113.9"), "{logged:?}");
        assert!(logged[0].contains("MONOSTAT_TRUSTED_PROXIES"), "{logged:?}");
    }

    #[test]
    fn the_client_is_read_through_trusted_proxies_only() {
        let trusted = default_trusted();
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let outside: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(
            client_ip(loopback, &headers("198.51.100.7"), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // A client's own X-Forwarded-For is ignored when it talks to us directly.
        assert_eq!(
            client_ip(outside, &headers("198.51.100.7"), &trusted),
            outside
        );
        // A forged entry left of the proxy's does not help.
        let chain = parse_ranges("127.0.0.1, 10.0.0.0/8").unwrap();
        assert_eq!(
            client_ip(
                loopback,
                &headers("1.2.3.4, 198.51.100.7, 10.0.0.5"),
                &chain
            ),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(loopback, &HeaderMap::new(), &trusted), loopback);
    }

    #[test]
    fn ipv6_clients_are_limited_per_64() {
        let a = limit_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = limit_key("2001:db8:1:2:bbbb::2".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_ne!(a, limit_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(limit_key("198.51.100.7".parse().unwrap()), "198.51.100.7");
    }
}
