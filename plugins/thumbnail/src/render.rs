//! Decoding, scaling and encoding: the image work, free of any host call.

use std::borrow::Cow;
use std::fmt;
use std::io::Cursor;
use std::num::NonZeroU32;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};

/// The quality of the JPEG thumbnails, from 1 to 100: 85 keeps them sharp and small.
const JPEG_QUALITY: u8 = 85;

/// The image formats the plugin makes thumbnails of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JPEG, written back as JPEG.
    Jpeg,
    /// PNG, written back as PNG.
    Png,
}

impl Format {
    /// Recognises the format from the first bytes of an image, whatever its key says. The
    /// error describes what the bytes look like instead.
    pub fn detect(bytes: &[u8]) -> Result<Self, Unsupported> {
        match image::guess_format(bytes) {
            Ok(ImageFormat::Jpeg) => Ok(Self::Jpeg),
            Ok(ImageFormat::Png) => Ok(Self::Png),
            Ok(other) => Err(Unsupported(Some(other))),
            Err(_) => Err(Unsupported(None)),
        }
    }

    /// The `Content-Type` of images of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Png => ImageFormat::Png,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
        })
    }
}

/// Bytes that are not a JPEG or a PNG image: another image format, or nothing recognisable.
#[derive(Debug)]
pub struct Unsupported(Option<ImageFormat>);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(format) => write!(f, "not a JPEG or PNG image but {}", format.to_mime_type()),
            None => f.write_str("not a JPEG or PNG image"),
        }
    }
}

/// The largest size that fits in `max_width` x `max_height` with the aspect ratio of
/// `width` x `height`, never larger than `width` x `height` and never zero.
pub fn fit(width: u32, height: u32, max_width: NonZeroU32, max_height: NonZeroU32) -> (u32, u32) {
    let (max_width, max_height) = (u64::from(max_width.get()), u64::from(max_height.get()));
    let (w, h) = (u64::from(width), u64::from(height));
    if w <= max_width && h <= max_height {
        return (width, height);
    }
    // Scale by the tighter bound; w * max_height >= h * max_width means width is tighter.
    let (fitted_w, fitted_h) = if w * max_height >= h * max_width {
        (max_width, (h * max_width + w / 2) / w)
    } else {
        ((w * max_height + h / 2) / h, max_height)
    };
    // Both are at most the bounds, which are u32.
    let narrow = |side: u64| u32::try_from(side.max(1)).unwrap_or(u32::MAX);
    (narrow(fitted_w), narrow(fitted_h))
}

/// A thumbnail, ready to store.
#[derive(Debug)]
pub struct Thumbnail<'a> {
    /// The encoded image: the source itself when it already fits.
    pub bytes: Cow<'a, [u8]>,
    /// The width in pixels, after any EXIF rotation.
    pub width: u32,
    /// The height in pixels, after any EXIF rotation.
    pub height: u32,
}

/// Makes the thumbnail of `source`, an image in `format`, that fits in `max_width` x
/// `max_height`. An image that already fits is returned as it is (never upscaled, never
/// re-encoded); the EXIF orientation of a JPEG is applied before scaling.
pub fn render(
    source: &[u8],
    format: Format,
    max_width: NonZeroU32,
    max_height: NonZeroU32,
) -> Result<Thumbnail<'_>, ImageError> {
    let mut decoder =
        ImageReader::with_format(Cursor::new(source), format.image_format()).into_decoder()?;
    let orientation = decoder.orientation()?;
    let mut image = DynamicImage::from_decoder(decoder)?;
    image.apply_orientation(orientation);

    let (width, height) = fit(image.width(), image.height(), max_width, max_height);
    if (width, height) == (image.width(), image.height()) {
        return Ok(Thumbnail {
            bytes: Cow::Borrowed(source),
            width,
            height,
        });
    }
    let thumbnail = image.resize_exact(width, height, FilterType::Triangle);
    Ok(Thumbnail {
        bytes: Cow::Owned(encode(&thumbnail, format)?),
        width,
        height,
    })
}

fn encode(image: &DynamicImage, format: Format) -> Result<Vec<u8>, ImageError> {
    let mut bytes = Vec::new();
    match format {
        Format::Jpeg => {
            // JPEG has no alpha and 8 bits per channel: keep grey as grey, the rest as RGB.
            let image = if image.color().has_color() {
                DynamicImage::ImageRgb8(image.to_rgb8())
            } else {
                DynamicImage::ImageLuma8(image.to_luma8())
            };
            image.write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY))?;
        }
        Format::Png => image.write_with_encoder(PngEncoder::new(&mut bytes))?,
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).expect("test sides are not zero")
    }

    fn encoded(width: u32, height: u32, format: Format) -> Vec<u8> {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        }));
        encode(&image, format).expect("encoding a test image")
    }

    #[test]
    fn fit_keeps_the_aspect_ratio() {
        assert_eq!(fit(640, 480, side(200), side(200)), (200, 150));
        assert_eq!(fit(480, 640, side(200), side(200)), (150, 200));
        assert_eq!(fit(1000, 10, side(200), side(200)), (200, 2));
        assert_eq!(fit(10_000, 1, side(200), side(200)), (200, 1));
    }

    #[test]
    fn fit_never_upscales() {
        assert_eq!(fit(100, 50, side(200), side(200)), (100, 50));
        assert_eq!(fit(200, 200, side(200), side(200)), (200, 200));
    }

    #[test]
    fn detect_reads_the_bytes() {
        assert_eq!(
            Format::detect(&encoded(4, 4, Format::Png)).ok(),
            Some(Format::Png)
        );
        assert_eq!(
            Format::detect(&encoded(4, 4, Format::Jpeg)).ok(),
            Some(Format::Jpeg)
        );
        let gif = Format::detect(b"GIF89a....").expect_err("a GIF is not supported");
        assert_eq!(gif.to_string(), "not a JPEG or PNG image but image/gif");
        assert!(Format::detect(b"name,age\n").is_err());
    }

    #[test]
    fn render_scales_down_in_the_same_format() {
        for format in [Format::Jpeg, Format::Png] {
            let source = encoded(640, 480, format);
            let thumbnail = render(&source, format, side(200), side(200)).expect("rendering");
            assert_eq!((thumbnail.width, thumbnail.height), (200, 150));
            assert_eq!(Format::detect(&thumbnail.bytes).ok(), Some(format));
            let decoded = image::load_from_memory(&thumbnail.bytes).expect("decoding");
            assert_eq!((decoded.width(), decoded.height()), (200, 150));
        }
    }

    #[test]
    fn the_example_photo_makes_a_200_by_150_jpeg() {
        let source = include_bytes!("../../../examples/HappyFace.jpg");
        let format = Format::detect(source).expect("the example is a JPEG");
        assert_eq!(format, Format::Jpeg);
        let thumbnail = render(source, format, side(200), side(200)).expect("rendering");
        assert_eq!((thumbnail.width, thumbnail.height), (200, 150));
        assert!(thumbnail.bytes.len() < source.len());
    }

    #[test]
    fn render_returns_a_small_image_as_it_is() {
        let source = encoded(120, 80, Format::Png);
        let thumbnail = render(&source, Format::Png, side(200), side(200)).expect("rendering");
        assert_eq!((thumbnail.width, thumbnail.height), (120, 80));
        assert_eq!(&*thumbnail.bytes, &source[..]);
    }

    #[test]
    fn render_rejects_corrupt_bytes() {
        let mut source = encoded(64, 64, Format::Png);
        source.truncate(40);
        assert!(render(&source, Format::Png, side(200), side(200)).is_err());
    }
}
