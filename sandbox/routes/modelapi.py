"""Placeholder: routes for the 'modelapi' group are being written."""

from flask import Blueprint

blueprint = Blueprint("modelapi", __name__)
