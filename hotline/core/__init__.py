"""The foundation layer: errors, settings, resources, artefact metadata, results, text utilities."""
