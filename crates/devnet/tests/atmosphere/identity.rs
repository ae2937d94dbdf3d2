//! Devnet identities as the production resolver sees them: documents, keys, PDS endpoints
//! and handles verified both ways (through `resolveHandle` and through the well-known file).

use identity::{Resolver, ResolverConfig};
use syntax::{Did, Handle};

use crate::support::*;

fn resolver(
    plc_url: String,
    resolve_handle_service: Option<String>,
    well_known: Option<String>,
) -> Resolver {
    Resolver::new(ResolverConfig {
        plc_url,
        resolve_handle_service,
        handle_well_known_base: well_known,
        allow_private_network: true,
        ..ResolverConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn the_identity_resolver_reads_devnet_documents_and_handles() {
    let devnet = devnet().await;
    let user = devnet.create_user("frank").unwrap();
    let impostor = devnet.create_user("grace").unwrap();
    devnet
        .pds()
        .claim_unverifiable_handle(&impostor.did, "frank2.devnet.test")
        .unwrap();
    let info = devnet.info();
    let did = Did::parse(&user.did).unwrap();
    for resolver in [
        resolver(
            info.plc_url.clone(),
            Some(info.handle_resolver_url.clone()),
            None,
        ),
        resolver(info.plc_url.clone(), None, Some(info.pds_url.clone())),
    ] {
        let doc = resolver.resolve_did(&did).await.unwrap();
        assert_eq!(doc.pds.as_deref(), Some(info.pds_url.as_str()));
        let key = resolver.signing_key(&did).await.unwrap();
        assert_eq!(
            key.multibase(),
            devnet.pds().signing_key(&user.did).unwrap()
        );
        let handle = resolver.verified_handle(&did).await.unwrap();
        assert_eq!(handle, Some(Handle::parse(&user.handle).unwrap()));
        let impostor_did = Did::parse(&impostor.did).unwrap();
        assert_eq!(resolver.verified_handle(&impostor_did).await.unwrap(), None);
    }
}
