"""Darwin Core Archive writing (pure: records in, bytes out; no Django).

An archive holds ``meta.xml`` (the file map), ``eml.xml`` (dataset metadata), ``occurrence.txt``
(the core, one row per observation) and ``multimedia.txt`` (Audubon Core audiovisual media
extension, one row per sound). Text files are UTF-8, tab-separated, one header line, no quoting;
tabs and newlines inside values are replaced by spaces.

basisOfRecord rule: an observation identified only by the model is a ``MachineObservation``;
once people verified it (research grade, or the recordist identified it as on xeno-canto) it is
a ``HumanObservation``.
"""
from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from datetime import datetime, timezone
from xml.sax.saxutils import escape, quoteattr

from server.observations.record_terms import license_name

DWC = "http://rs.tdwg.org/dwc/terms/"
DC = "http://purl.org/dc/terms/"
DC_ELEMENTS = "http://purl.org/dc/elements/1.1/"  # dc: values are literals (a name, a word, a MIME type)
AC = "http://rs.tdwg.org/ac/terms/"
XMP = "http://ns.adobe.com/xap/1.0/"  # xmp:Rating (Audubon Core: 1 worst to 5 best, 0 not rated)
XMP_RIGHTS = "http://ns.adobe.com/xap/1.0/rights/"  # xmpRights:Owner, the rights holder
OCCURRENCE_ROW_TYPE = DWC + "Occurrence"
MULTIMEDIA_ROW_TYPE = AC + "Multimedia"

OCCURRENCE_TERMS: list[tuple[str, str]] = [(name, DWC + name) for name in (
    "occurrenceID", "basisOfRecord", "occurrenceStatus", "scientificName", "vernacularName", "taxonRank",
    "kingdom", "class", "order", "family", "genus",
    "eventDate", "eventTime", "decimalLatitude", "decimalLongitude", "geodeticDatum",
    "coordinateUncertaintyInMeters", "countryCode", "locality", "recordedBy", "identificationVerificationStatus",
    "dataGeneralizations", "informationWithheld", "associatedMedia", "occurrenceRemarks")] + [
    ("license", DC + "license"), ("rightsHolder", DC + "rightsHolder"), ("references", DC + "references"),
    ("associatedTaxa", DWC + "associatedTaxa")]

# Audiovisual Core pairs a literal term (dc:type, dc:format, dc:creator, xmpRights:UsageTerms) with a URI term
# (dcterms:type, dcterms:rights, xmpRights:WebStatement); each value goes to the term of its kind.
MULTIMEDIA_TERMS: list[tuple[str, str]] = [
    ("identifier", DC + "identifier"), ("type", DC_ELEMENTS + "type"), ("typeURI", DC + "type"),
    ("title", DC + "title"), ("accessURI", AC + "accessURI"), ("format", DC_ELEMENTS + "format"),
    ("rights", DC + "rights"), ("UsageTerms", XMP_RIGHTS + "UsageTerms"), ("WebStatement", XMP_RIGHTS + "WebStatement"),
    ("creator", DC_ELEMENTS + "creator"), ("Owner", XMP_RIGHTS + "Owner"),
    ("freqLow", AC + "freqLow"), ("freqHigh", AC + "freqHigh"), ("mediaDuration", AC + "mediaDuration"),
    ("captureDevice", AC + "captureDevice"), ("furtherInformationURL", AC + "furtherInformationURL"),
    ("Rating", XMP + "Rating")]
SOUND_TYPE = "Sound"
SOUND_TYPE_URI = "http://purl.org/dc/dcmitype/Sound"

GENERALISED = ("Coordinates generalised to a random point inside the 0.2° × 0.2° grid cell that holds the "
               "true position (a sensitive species, or the same recordist's record within 24 hours of one); the "
               "point is stable per record. The event date is given without the time.")
WITHHELD = ("Precise coordinates, time, locality, recordist and source links withheld to protect the species; "
            "researchers may request them.")


def clean(value) -> str:
    """A value as one TSV cell (None → empty; tabs and line breaks → spaces)."""
    if value is None:
        return ""
    text = f"{value:.6f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    return " ".join(text.replace("\t", " ").splitlines())


def tsv(rows: Iterable[dict], terms: list[tuple[str, str]], id_column: str) -> bytes:
    names = [id_column] + [n for n, _ in terms]
    out = io.StringIO()
    out.write("\t".join(names) + "\n")
    for row in rows:
        out.write("\t".join(clean(row.get(n)) for n in names) + "\n")
    return out.getvalue().encode("utf-8")


def _fields_xml(terms: list[tuple[str, str]]) -> str:
    return "\n".join(f'    <field index="{i + 1}" term={quoteattr(uri)}/>' for i, (_n, uri) in enumerate(terms))


def meta_xml() -> bytes:
    """The archive descriptor: occurrence core (id column 0) and the multimedia extension."""
    files = ('fieldsTerminatedBy="\\t" linesTerminatedBy="\\n" fieldsEnclosedBy="" encoding="UTF-8" '
             'ignoreHeaderLines="1"')
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">
  <core rowType="{OCCURRENCE_ROW_TYPE}" {files}>
    <files><location>occurrence.txt</location></files>
    <id index="0"/>
{_fields_xml(OCCURRENCE_TERMS)}
  </core>
  <extension rowType="{MULTIMEDIA_ROW_TYPE}" {files}>
    <files><location>multimedia.txt</location></files>
    <coreid index="0"/>
{_fields_xml(MULTIMEDIA_TERMS)}
  </extension>
</archive>
"""
    return xml.encode("utf-8")


def rights_xml(licenses: dict[str, int]) -> str:
    """The EML ``intellectualRights``: records carry their own licences (``licenses``: URL → records), so the
    dataset names each one with its count instead of claiming one licence for all."""
    listed = "".join(
        f"<listitem><para><ulink url={quoteattr(url)}><citetitle>{escape(license_name(url))}</citetitle>"
        f"</ulink>: "
        f'{n} record{"s" if n != 1 else ""}</para></listitem>'
        for url, n in sorted(licenses.items(), key=lambda item: (-item[1], item[0])) if url)
    listing = f"<itemizedlist>{listed}</itemizedlist>" if listed else ""
    return ("<intellectualRights><para>Each record carries its own licence (dcterms:license in occurrence.txt, "
            "dcterms:rights in multimedia.txt) and its rights holder; use each record under its licence. The "
            f"licences in this archive:</para>{listing}</intellectualRights>")


def eml_xml(*, title: str, abstract: str, publisher: str, contact_email: str, package_id: str,
            licenses: dict[str, int], n_records: int, bbox: tuple[float, float, float, float] | None,
            pub_date: datetime | None = None) -> bytes:
    """Minimal EML 2.1.1 dataset metadata that GBIF's IPT validator accepts; ``licenses`` counts the records
    under each licence URL (see :func:`rights_xml`)."""
    pub = (pub_date or datetime.now(timezone.utc)).date().isoformat()
    coverage = ""
    if bbox:
        w, s, e, n = bbox
        coverage = f"""
    <coverage><geographicCoverage>
      <geographicDescription>Bounding box of the published (generalised) coordinates</geographicDescription>
      <boundingCoordinates><westBoundingCoordinate>{w:.5f}</westBoundingCoordinate>
        <eastBoundingCoordinate>{e:.5f}</eastBoundingCoordinate><northBoundingCoordinate>{n:.5f}</northBoundingCoordinate>
        <southBoundingCoordinate>{s:.5f}</southBoundingCoordinate></boundingCoordinates>
    </geographicCoverage></coverage>"""
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<eml:eml xmlns:eml="eml://ecoinformatics.org/eml-2.1.1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="eml://ecoinformatics.org/eml-2.1.1 http://rs.gbif.org/schema/eml-gbif-profile/1.1/eml.xsd"
  packageId={quoteattr(package_id)} system="http://gbif.org/" scope="system" xml:lang="en">
  <dataset>
    <title xml:lang="en">{escape(title)}</title>
    <creator><organizationName>{escape(publisher)}</organizationName><electronicMailAddress>{escape(contact_email)}</electronicMailAddress></creator>
    <metadataProvider><organizationName>{escape(publisher)}</organizationName></metadataProvider>
    <pubDate>{pub}</pubDate>
    <language>en</language>
    <abstract><para>{escape(abstract)} {n_records} occurrence records.</para></abstract>
    {rights_xml(licenses)}{coverage}
    <contact><organizationName>{escape(publisher)}</organizationName><electronicMailAddress>{escape(contact_email)}</electronicMailAddress></contact>
  </dataset>
</eml:eml>
"""
    return xml.encode("utf-8")


def write_archive(target, occurrences: list[dict], media: list[dict], eml: bytes) -> None:
    """Write the zip to ``target`` (path or binary file object)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.xml", meta_xml())
        zf.writestr("eml.xml", eml)
        zf.writestr("occurrence.txt", tsv(occurrences, OCCURRENCE_TERMS, "id"))
        zf.writestr("multimedia.txt", tsv(media, MULTIMEDIA_TERMS, "coreid"))
