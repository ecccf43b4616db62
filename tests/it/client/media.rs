//! Media and discovery against the real Synapse.

use std::net::TcpListener;

use actix_web::{web, App, HttpResponse, HttpServer};
use ghostkit::client::media::ThumbnailMethod;

use crate::client::{client, ghost_id, synapse_url, tiny_png};

#[tokio::test]
async fn upload_download_and_thumbnail() -> anyhow::Result<()> {
    let client = client();
    let ghost = client.as_user(&ghost_id("media"))?;
    ghost.register().await?;

    let text = b"hello from a ghost".to_vec();
    let mxc = ghost
        .upload(text.clone(), "text/plain", Some("hello.txt"))
        .await?;
    assert!(mxc.as_str().starts_with("mxc://localhost/"));
    // Downloaded by someone else (the bot), through authenticated media.
    let media = client.as_bot().download(&mxc).await?;
    assert_eq!(media.data, text);
    assert!(media
        .content_type
        .unwrap_or_default()
        .starts_with("text/plain"));
    assert!(media
        .content_disposition
        .unwrap_or_default()
        .contains("hello.txt"));

    let png = tiny_png(64, 64);
    let mxc = client
        .as_bot()
        .upload(png.clone(), "image/png", Some("tiny.png"))
        .await?;
    assert_eq!(ghost.download(&mxc).await?.data, png);
    let thumb = ghost
        .thumbnail(&mxc, 32, 32, ThumbnailMethod::Scale)
        .await?;
    assert!(thumb.content_type.unwrap_or_default().starts_with("image/"));
    assert!(!thumb.data.is_empty());

    let config = ghost.media_config().await?;
    assert!(config.upload_size.unwrap_or(0) > 0);
    Ok(())
}

#[tokio::test]
async fn versions_well_known_capabilities_and_ping() -> anyhow::Result<()> {
    let client = client();
    let versions = client.versions().await?;
    assert!(versions.supports("v1.7"));
    let wk = client.well_known().await?;
    assert!(wk.homeserver.base_url.starts_with("http"));
    let caps = client.capabilities().await?;
    assert!(caps["m.room_versions"]["default"].is_string());

    // The ping needs the appservice to answer at the registration's URL.
    let listener = TcpListener::bind("127.0.0.1:29320").map_err(|e| {
        anyhow::anyhow!("port 29320 (tests/registrations/client.yaml) is busy: {e}")
    })?;
    let server = HttpServer::new(|| {
        App::new().default_service(web::to(|| async {
            HttpResponse::Ok()
                .content_type("application/json")
                .body("{}")
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    // A Synapse just started has been seen to fail its first ping with a
    // twisted race ("AlreadyCalled"): try a few times before failing.
    let mut rtt = client.ping(Some("client-test")).await;
    for _ in 0..3 {
        match &rtt {
            Err(e) if e.errcode() == Some("M_CONNECTION_FAILED") => {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                rtt = client.ping(Some("client-test")).await;
            }
            _ => break,
        }
    }
    handle.stop(false).await;
    let _ = task.await;
    let rtt = rtt?;
    assert!(rtt.as_secs() < 30, "{rtt:?} from {}", synapse_url());
    Ok(())
}
